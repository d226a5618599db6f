-- Live events get a table of their own (docs/isolation.md, "Live events through the outbox"):
-- every row is unpublished (the relay deletes what it publishes), so the relay reads in
-- primary-key order and no secondary index is kept per event (README, "Performance").
CREATE TABLE `live_events` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`payload` text NOT NULL,
	`created_at` datetime(3) NOT NULL,
	CONSTRAINT `live_events_id` PRIMARY KEY(`id`)
);--> statement-breakpoint
-- Event ids continue after every id the outbox has used: a user's stream drops an event whose id
-- it has seen (a republished one), so an id must never come back. A placeholder row above them
-- moves the counter (InnoDB keeps it across its deletion and restarts).
INSERT INTO `live_events` (`id`, `payload`, `created_at`)
SELECT GREATEST(
	COALESCE(MAX(`id`), 0),
	COALESCE((SELECT `AUTO_INCREMENT` - 1 FROM information_schema.TABLES WHERE `TABLE_SCHEMA` = DATABASE() AND `TABLE_NAME` = 'outbox'), 0)
) + 1, '', NOW(3) FROM `outbox`;--> statement-breakpoint
-- Events not yet published move over with their ids (a repeat of one already in a stream stays a repeat).
INSERT INTO `live_events` (`id`, `payload`, `created_at`)
SELECT `id`, `payload`, `created_at` FROM `outbox` WHERE `kind` = 'event' AND `sent_at` IS NULL;--> statement-breakpoint
DELETE FROM `live_events` WHERE `payload` = '';--> statement-breakpoint
DELETE FROM `outbox` WHERE `kind` = 'event' AND `sent_at` IS NULL;
