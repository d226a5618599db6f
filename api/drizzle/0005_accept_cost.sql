-- Status counters kept by the write path itself (docs/data.md, "Stats"): the write path's
-- transactions add one statement per transaction with every status change it made (one row per
-- table and status, on the connection's shard), instead of two counter statements per changed row
-- from triggers. Its pool marks its sessions with @counts_by_write_path, and the triggers skip
-- them; every other writer (operators' actions, retention, the failure inbox, hand-run SQL) is
-- still counted by the triggers, one statement per row.
DROP TRIGGER `notes_count_insert`;--> statement-breakpoint
DROP TRIGGER `notes_count_delete`;--> statement-breakpoint
DROP TRIGGER `notes_count_update`;--> statement-breakpoint
DROP TRIGGER `jobs_count_insert`;--> statement-breakpoint
DROP TRIGGER `jobs_count_delete`;--> statement-breakpoint
DROP TRIGGER `jobs_count_update`;--> statement-breakpoint
CREATE TRIGGER `notes_count_insert` AFTER INSERT ON `notes` FOR EACH ROW
BEGIN
	IF @counts_by_write_path IS NULL THEN
		INSERT INTO `status_counts` (`tbl`, `status`, `shard`, `n`) VALUES ('notes', NEW.`status`, CONNECTION_ID() % 64, 1)
		ON DUPLICATE KEY UPDATE `n` = `n` + 1;
	END IF;
END;--> statement-breakpoint
CREATE TRIGGER `notes_count_delete` AFTER DELETE ON `notes` FOR EACH ROW
BEGIN
	IF @counts_by_write_path IS NULL THEN
		INSERT INTO `status_counts` (`tbl`, `status`, `shard`, `n`) VALUES ('notes', OLD.`status`, CONNECTION_ID() % 64, -1)
		ON DUPLICATE KEY UPDATE `n` = `n` - 1;
	END IF;
END;--> statement-breakpoint
CREATE TRIGGER `notes_count_update` AFTER UPDATE ON `notes` FOR EACH ROW
BEGIN
	IF NEW.`status` <> OLD.`status` AND @counts_by_write_path IS NULL THEN
		INSERT INTO `status_counts` (`tbl`, `status`, `shard`, `n`)
		VALUES ('notes', OLD.`status`, CONNECTION_ID() % 64, -1), ('notes', NEW.`status`, CONNECTION_ID() % 64, 1)
		ON DUPLICATE KEY UPDATE `n` = `n` + VALUE(`n`);
	END IF;
END;--> statement-breakpoint
CREATE TRIGGER `jobs_count_insert` AFTER INSERT ON `jobs` FOR EACH ROW
BEGIN
	IF @counts_by_write_path IS NULL THEN
		INSERT INTO `status_counts` (`tbl`, `status`, `shard`, `n`) VALUES ('jobs', NEW.`status`, CONNECTION_ID() % 64, 1)
		ON DUPLICATE KEY UPDATE `n` = `n` + 1;
	END IF;
END;--> statement-breakpoint
CREATE TRIGGER `jobs_count_delete` AFTER DELETE ON `jobs` FOR EACH ROW
BEGIN
	IF @counts_by_write_path IS NULL THEN
		INSERT INTO `status_counts` (`tbl`, `status`, `shard`, `n`) VALUES ('jobs', OLD.`status`, CONNECTION_ID() % 64, -1)
		ON DUPLICATE KEY UPDATE `n` = `n` - 1;
	END IF;
END;--> statement-breakpoint
CREATE TRIGGER `jobs_count_update` AFTER UPDATE ON `jobs` FOR EACH ROW
BEGIN
	IF NEW.`status` <> OLD.`status` AND @counts_by_write_path IS NULL THEN
		INSERT INTO `status_counts` (`tbl`, `status`, `shard`, `n`)
		VALUES ('jobs', OLD.`status`, CONNECTION_ID() % 64, -1), ('jobs', NEW.`status`, CONNECTION_ID() % 64, 1)
		ON DUPLICATE KEY UPDATE `n` = `n` + VALUE(`n`);
	END IF;
END;
