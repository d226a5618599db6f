-- Data at scale (docs/data.md): one index per list order, FULLTEXT search, and status counters
-- kept by triggers. On a large existing table each ALTER rebuilds or sorts that table once; run it
-- in a quiet hour.
DROP INDEX `notes_user_status_idx` ON `notes`;--> statement-breakpoint
DROP INDEX `notes_status_idx` ON `notes`;--> statement-breakpoint
CREATE INDEX `notes_user_status_idx` ON `notes` (`user_id`,`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `notes_status_idx` ON `notes` (`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `notes_user_title_idx` ON `notes` (`user_id`,`title`);--> statement-breakpoint
CREATE INDEX `notes_user_priority_idx` ON `notes` (`user_id`,`priority`,`created_at`);--> statement-breakpoint
CREATE INDEX `notes_created_idx` ON `notes` (`created_at`);--> statement-breakpoint
CREATE INDEX `notes_updated_idx` ON `notes` (`updated_at`);--> statement-breakpoint
CREATE INDEX `notes_title_idx` ON `notes` (`title`);--> statement-breakpoint
CREATE INDEX `notes_priority_idx` ON `notes` (`priority`,`created_at`);--> statement-breakpoint
-- Words of title and body; the table's utf8mb4_unicode_ci collation makes matching case- and
-- accent-insensitive. Without a stopword list ("the", "with", … are words like any other): an
-- index takes the setting of the session that creates it.
SET SESSION innodb_ft_enable_stopword = OFF;--> statement-breakpoint
CREATE FULLTEXT INDEX `notes_search_ft` ON `notes` (`title`,`body`);--> statement-breakpoint
CREATE INDEX `jobs_status_finished_idx` ON `jobs` (`status`,`finished_at`);--> statement-breakpoint
CREATE INDEX `jobs_status_updated_idx` ON `jobs` (`status`,`updated_at`);--> statement-breakpoint
CREATE INDEX `jobs_created_idx` ON `jobs` (`created_at`);--> statement-breakpoint
CREATE INDEX `jobs_updated_idx` ON `jobs` (`updated_at`);--> statement-breakpoint
CREATE INDEX `jobs_finished_idx` ON `jobs` (`finished_at`,`status`);--> statement-breakpoint
CREATE INDEX `jobs_priority_idx` ON `jobs` (`priority`,`created_at`);--> statement-breakpoint
CREATE INDEX `jobs_kind_idx` ON `jobs` (`kind`,`created_at`);--> statement-breakpoint
CREATE FULLTEXT INDEX `jobs_errors_ft` ON `jobs` (`last_error`,`dead_reason`);--> statement-breakpoint
SET SESSION innodb_ft_enable_stopword = ON;--> statement-breakpoint
CREATE INDEX `users_created_idx` ON `users` (`created_at`);--> statement-breakpoint
CREATE INDEX `users_name_idx` ON `users` (`name`);--> statement-breakpoint
CREATE INDEX `users_role_idx` ON `users` (`role`,`created_at`);--> statement-breakpoint
CREATE INDEX `audit_action_idx` ON `audit_log` (`action`,`created_at`);--> statement-breakpoint
CREATE INDEX `audit_actor_idx` ON `audit_log` (`actor_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `audit_target_idx` ON `audit_log` (`target`,`created_at`);--> statement-breakpoint
CREATE TABLE `status_counts` (
	`tbl` enum('notes','jobs') NOT NULL,
	`status` varchar(16) NOT NULL,
	`shard` tinyint unsigned NOT NULL,
	`n` bigint NOT NULL DEFAULT 0,
	CONSTRAINT `status_counts_tbl_status_shard_pk` PRIMARY KEY(`tbl`,`status`,`shard`)
);--> statement-breakpoint
-- The counters start from the rows already there (migrations run before the API serves).
INSERT INTO `status_counts` (`tbl`, `status`, `shard`, `n`)
	SELECT 'notes', `status`, 0, COUNT(*) FROM `notes` GROUP BY `status`;--> statement-breakpoint
INSERT INTO `status_counts` (`tbl`, `status`, `shard`, `n`)
	SELECT 'jobs', `status`, 0, COUNT(*) FROM `jobs` GROUP BY `status`;--> statement-breakpoint
-- Every shard of every status has its row from the start, so a trigger only ever updates an existing
-- row (a record lock). Inserting a missing one takes gap locks on the primary key, and concurrent
-- status changes (a callback batch and an operator's retry, say) deadlocked on those.
INSERT IGNORE INTO `status_counts` (`tbl`, `status`, `shard`, `n`)
	SELECT k.tbl, k.status, hi.d * 8 + lo.d, 0
	FROM (SELECT 'notes' AS tbl, 'queued' AS status UNION ALL SELECT 'notes', 'processing' UNION ALL SELECT 'notes', 'processed' UNION ALL SELECT 'notes', 'failed' UNION ALL SELECT 'notes', 'dead' UNION ALL SELECT 'jobs', 'queued' UNION ALL SELECT 'jobs', 'processing' UNION ALL SELECT 'jobs', 'processed' UNION ALL SELECT 'jobs', 'failed' UNION ALL SELECT 'jobs', 'dead' UNION ALL SELECT 'jobs', 'discarded' UNION ALL SELECT 'jobs', 'skipped') AS k
	CROSS JOIN (SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7) AS hi
	CROSS JOIN (SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7) AS lo;--> statement-breakpoint
-- Each connection adds to its own shard, so concurrent transactions do not wait on one row.
CREATE TRIGGER `notes_count_insert` AFTER INSERT ON `notes` FOR EACH ROW
	INSERT INTO `status_counts` (`tbl`, `status`, `shard`, `n`) VALUES ('notes', NEW.`status`, CONNECTION_ID() % 64, 1)
	ON DUPLICATE KEY UPDATE `n` = `n` + 1;--> statement-breakpoint
CREATE TRIGGER `notes_count_delete` AFTER DELETE ON `notes` FOR EACH ROW
	INSERT INTO `status_counts` (`tbl`, `status`, `shard`, `n`) VALUES ('notes', OLD.`status`, CONNECTION_ID() % 64, -1)
	ON DUPLICATE KEY UPDATE `n` = `n` - 1;--> statement-breakpoint
CREATE TRIGGER `notes_count_update` AFTER UPDATE ON `notes` FOR EACH ROW
BEGIN
	IF NEW.`status` <> OLD.`status` THEN
		INSERT INTO `status_counts` (`tbl`, `status`, `shard`, `n`) VALUES ('notes', OLD.`status`, CONNECTION_ID() % 64, -1)
		ON DUPLICATE KEY UPDATE `n` = `n` - 1;
		INSERT INTO `status_counts` (`tbl`, `status`, `shard`, `n`) VALUES ('notes', NEW.`status`, CONNECTION_ID() % 64, 1)
		ON DUPLICATE KEY UPDATE `n` = `n` + 1;
	END IF;
END;--> statement-breakpoint
CREATE TRIGGER `jobs_count_insert` AFTER INSERT ON `jobs` FOR EACH ROW
	INSERT INTO `status_counts` (`tbl`, `status`, `shard`, `n`) VALUES ('jobs', NEW.`status`, CONNECTION_ID() % 64, 1)
	ON DUPLICATE KEY UPDATE `n` = `n` + 1;--> statement-breakpoint
CREATE TRIGGER `jobs_count_delete` AFTER DELETE ON `jobs` FOR EACH ROW
	INSERT INTO `status_counts` (`tbl`, `status`, `shard`, `n`) VALUES ('jobs', OLD.`status`, CONNECTION_ID() % 64, -1)
	ON DUPLICATE KEY UPDATE `n` = `n` - 1;--> statement-breakpoint
CREATE TRIGGER `jobs_count_update` AFTER UPDATE ON `jobs` FOR EACH ROW
BEGIN
	IF NEW.`status` <> OLD.`status` THEN
		INSERT INTO `status_counts` (`tbl`, `status`, `shard`, `n`) VALUES ('jobs', OLD.`status`, CONNECTION_ID() % 64, -1)
		ON DUPLICATE KEY UPDATE `n` = `n` - 1;
		INSERT INTO `status_counts` (`tbl`, `status`, `shard`, `n`) VALUES ('jobs', NEW.`status`, CONNECTION_ID() % 64, 1)
		ON DUPLICATE KEY UPDATE `n` = `n` + 1;
	END IF;
END;
