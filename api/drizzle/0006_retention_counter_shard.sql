-- Retention's deletes count in a status-counter shard of their own (docs/jobs.md, "Retention").
-- Writers count in shard CONNECTION_ID() % 64; a retention batch used to hold its connection's
-- shard row for the length of its DELETE, so a callback on a connection with the same shard
-- waited for the batch. The maintenance connection sets @notes_counter_shard = 64, a shard no
-- writer uses; its rows exist from the start, so the trigger only ever updates them.
INSERT IGNORE INTO `status_counts` (`tbl`, `status`, `shard`, `n`)
	SELECT 'jobs', k.status, 64, 0
	FROM (SELECT 'queued' AS status UNION ALL SELECT 'processing' UNION ALL SELECT 'processed' UNION ALL SELECT 'failed' UNION ALL SELECT 'dead' UNION ALL SELECT 'discarded' UNION ALL SELECT 'skipped') AS k;--> statement-breakpoint
DROP TRIGGER IF EXISTS `jobs_count_delete`;--> statement-breakpoint
CREATE TRIGGER `jobs_count_delete` AFTER DELETE ON `jobs` FOR EACH ROW
BEGIN
	IF @counts_by_write_path IS NULL THEN
		INSERT INTO `status_counts` (`tbl`, `status`, `shard`, `n`)
		VALUES ('jobs', OLD.`status`, IF(@notes_counter_shard = 64, 64, CONNECTION_ID() % 64), -1)
		ON DUPLICATE KEY UPDATE `n` = `n` - 1;
	END IF;
END;
