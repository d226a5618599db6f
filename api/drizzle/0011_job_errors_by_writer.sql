-- `job_errors` kept by the one writer (docs/data.md, "Search"; docs/architecture.md, "The write
-- path"): a transaction that sets, changes or clears a job's error text, or changes a job that
-- carries one, or deletes jobs, brings their rows along before its COMMIT
-- (api/src/platform/db/job-errors.ts). The triggers fired on every insert and update of `jobs`,
-- nearly all of them jobs that never carry error text, and made every statement on `jobs` open
-- and lock `job_errors` too. SQL run by hand outside the API is not mirrored: docs/operations.md
-- says how to rebuild the table.
DROP TRIGGER IF EXISTS `jobs_errors_insert`;--> statement-breakpoint
DROP TRIGGER IF EXISTS `jobs_errors_update`;--> statement-breakpoint
DROP TRIGGER IF EXISTS `jobs_errors_delete`;
