ALTER TABLE `outbox` ADD `kind` enum('job','event') DEFAULT 'job' NOT NULL;--> statement-breakpoint
UPDATE `outbox` SET `kind` = 'event' WHERE `job_id` LIKE 'ev-%';--> statement-breakpoint
DROP INDEX `outbox_pending_idx` ON `outbox`;--> statement-breakpoint
CREATE INDEX `outbox_pending_idx` ON `outbox` (`sent_at`,`kind`,`id`);
