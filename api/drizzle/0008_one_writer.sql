-- One writer (docs/architecture.md, "The write path"): every INSERT, UPDATE and DELETE of the API
-- runs through its writer, whose transactions add their status changes to `status_counts` in one
-- statement before COMMIT (docs/data.md, "Stats"). The triggers that counted every other writer
-- row by row have no writer left to count; they go, and so does the session flag they checked.
-- SQL run by hand outside the API is not counted: docs/operations.md says how to recount.
DROP TRIGGER IF EXISTS `notes_count_insert`;--> statement-breakpoint
DROP TRIGGER IF EXISTS `notes_count_delete`;--> statement-breakpoint
DROP TRIGGER IF EXISTS `notes_count_update`;--> statement-breakpoint
DROP TRIGGER IF EXISTS `jobs_count_insert`;--> statement-breakpoint
DROP TRIGGER IF EXISTS `jobs_count_delete`;--> statement-breakpoint
DROP TRIGGER IF EXISTS `jobs_count_update`;
