-- The console's job search (docs/data.md, "Search"): only failed, dead, skipped and discarded
-- jobs carry error text, a small share of all jobs, so a FULLTEXT index over all jobs made a
-- search of every status read every matching job from the big table before it could order and
-- page them. `job_errors` holds exactly the jobs that carry error text, with their list columns
-- and the same order indexes as `jobs`: a search walks or matches this small table and reads
-- only the page's jobs by primary key. Triggers on `jobs` keep it in the transaction that sets,
-- changes or clears a job's error, whoever the writer is (the callbacks, a DLQ promote or
-- discard, an operator, retention's deletes, a manual UPDATE); a job without error text costs
-- one comparison per written row. Built without stopwords, as the other FULLTEXT indexes.
SET SESSION innodb_ft_enable_stopword = OFF;--> statement-breakpoint
CREATE TABLE `job_errors` (
	`job_id` varchar(36) NOT NULL,
	`note_id` varchar(36) NOT NULL,
	`kind` enum('note.process','webhook.deliver') NOT NULL,
	`priority` enum('low','normal','high','critical','max') NOT NULL,
	`status` enum('queued','processing','processed','failed','dead','discarded','skipped') NOT NULL,
	`last_error` text,
	`dead_reason` text,
	`created_at` datetime(3) NOT NULL,
	`updated_at` datetime(3) NOT NULL,
	`finished_at` datetime(3),
	CONSTRAINT `job_errors_job_id` PRIMARY KEY(`job_id`),
	INDEX `job_errors_note_idx` (`note_id`,`created_at`),
	INDEX `job_errors_status_idx` (`status`,`created_at`),
	INDEX `job_errors_status_finished_idx` (`status`,`finished_at`),
	INDEX `job_errors_status_updated_idx` (`status`,`updated_at`),
	INDEX `job_errors_created_idx` (`created_at`),
	INDEX `job_errors_updated_idx` (`updated_at`),
	INDEX `job_errors_finished_idx` (`finished_at`,`status`),
	INDEX `job_errors_priority_idx` (`priority`,`created_at`),
	INDEX `job_errors_kind_idx` (`kind`,`created_at`),
	FULLTEXT INDEX `job_errors_ft` (`last_error`,`dead_reason`)
);--> statement-breakpoint
SET SESSION innodb_ft_enable_stopword = ON;--> statement-breakpoint
INSERT INTO `job_errors` (`job_id`, `note_id`, `kind`, `priority`, `status`, `last_error`, `dead_reason`, `created_at`, `updated_at`, `finished_at`)
	SELECT `id`, `note_id`, `kind`, `priority`, `status`, `last_error`, `dead_reason`, `created_at`, `updated_at`, `finished_at`
	FROM `jobs` WHERE `last_error` IS NOT NULL OR `dead_reason` IS NOT NULL;--> statement-breakpoint
CREATE TRIGGER `jobs_errors_insert` AFTER INSERT ON `jobs` FOR EACH ROW
BEGIN
	IF NEW.`last_error` IS NOT NULL OR NEW.`dead_reason` IS NOT NULL THEN
		INSERT INTO `job_errors` (`job_id`, `note_id`, `kind`, `priority`, `status`, `last_error`, `dead_reason`, `created_at`, `updated_at`, `finished_at`)
		VALUES (NEW.`id`, NEW.`note_id`, NEW.`kind`, NEW.`priority`, NEW.`status`, NEW.`last_error`, NEW.`dead_reason`, NEW.`created_at`, NEW.`updated_at`, NEW.`finished_at`);
	END IF;
END;--> statement-breakpoint
CREATE TRIGGER `jobs_errors_update` AFTER UPDATE ON `jobs` FOR EACH ROW
BEGIN
	IF NEW.`last_error` IS NOT NULL OR NEW.`dead_reason` IS NOT NULL THEN
		INSERT INTO `job_errors` (`job_id`, `note_id`, `kind`, `priority`, `status`, `last_error`, `dead_reason`, `created_at`, `updated_at`, `finished_at`)
		VALUES (NEW.`id`, NEW.`note_id`, NEW.`kind`, NEW.`priority`, NEW.`status`, NEW.`last_error`, NEW.`dead_reason`, NEW.`created_at`, NEW.`updated_at`, NEW.`finished_at`)
		ON DUPLICATE KEY UPDATE `note_id` = VALUE(`note_id`), `kind` = VALUE(`kind`), `priority` = VALUE(`priority`),
			`status` = VALUE(`status`), `last_error` = VALUE(`last_error`), `dead_reason` = VALUE(`dead_reason`),
			`created_at` = VALUE(`created_at`), `updated_at` = VALUE(`updated_at`), `finished_at` = VALUE(`finished_at`);
	ELSEIF OLD.`last_error` IS NOT NULL OR OLD.`dead_reason` IS NOT NULL THEN
		DELETE FROM `job_errors` WHERE `job_id` = OLD.`id`;
	END IF;
END;--> statement-breakpoint
CREATE TRIGGER `jobs_errors_delete` AFTER DELETE ON `jobs` FOR EACH ROW
BEGIN
	IF OLD.`last_error` IS NOT NULL OR OLD.`dead_reason` IS NOT NULL THEN
		DELETE FROM `job_errors` WHERE `job_id` = OLD.`id`;
	END IF;
END;--> statement-breakpoint
DROP INDEX `jobs_errors_ft` ON `jobs`;
