-- The list and FULLTEXT indexes of notes and jobs that the data at scale needs (docs/data.md,
-- "Indexes"), as one more migration for a checkout of code from before them (the first wave,
-- whose notes and jobs have only the indexes below that are not created here). apply.ts adds it;
-- then `npm run bench` there and here compares the two pipelines with equal indexes (README,
-- "Before → after"). scripts/test/equal-indexes.test.ts keeps it equal to this code's indexes.
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
SET SESSION innodb_ft_enable_stopword = OFF;--> statement-breakpoint
CREATE FULLTEXT INDEX `notes_search_ft` ON `notes` (`title`,`body`);--> statement-breakpoint
SET SESSION innodb_ft_enable_stopword = ON;--> statement-breakpoint
CREATE INDEX `jobs_status_finished_idx` ON `jobs` (`status`,`finished_at`);--> statement-breakpoint
CREATE INDEX `jobs_status_updated_idx` ON `jobs` (`status`,`updated_at`);--> statement-breakpoint
CREATE INDEX `jobs_created_idx` ON `jobs` (`created_at`);--> statement-breakpoint
CREATE INDEX `jobs_updated_idx` ON `jobs` (`updated_at`);--> statement-breakpoint
CREATE INDEX `jobs_finished_idx` ON `jobs` (`finished_at`,`status`);--> statement-breakpoint
CREATE INDEX `jobs_priority_idx` ON `jobs` (`priority`,`created_at`);--> statement-breakpoint
CREATE INDEX `jobs_kind_idx` ON `jobs` (`kind`,`created_at`);
