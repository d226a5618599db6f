CREATE TABLE `dead_letters` (
	`id` varchar(36) NOT NULL,
	`job_id` varchar(64),
	`kind` varchar(64) NOT NULL,
	`priority` enum('low','normal','high','critical','max') NOT NULL,
	`user_id` varchar(64),
	`group_id` varchar(16) NOT NULL,
	`error_class` varchar(100) NOT NULL,
	`message` varchar(500) NOT NULL,
	`reason` text NOT NULL,
	`malformed` boolean NOT NULL DEFAULT false,
	`attempt` int NOT NULL DEFAULT 1,
	`body` mediumtext NOT NULL,
	`headers` json NOT NULL,
	`dead_at` datetime(3) NOT NULL,
	`promote_run` varchar(40),
	CONSTRAINT `dead_letters_id` PRIMARY KEY(`id`),
	CONSTRAINT `dead_letters_job_unique` UNIQUE(`job_id`)
);
--> statement-breakpoint
CREATE TABLE `job_attempts` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`job_id` varchar(36) NOT NULL,
	`number` int NOT NULL,
	`run` varchar(40),
	`started_at` datetime(3),
	`finished_at` datetime(3) NOT NULL,
	`outcome` enum('processed','failed','dead') NOT NULL,
	`error_class` varchar(100),
	`error_message` text,
	`http_status` int,
	`response_excerpt` text,
	`duration_ms` int,
	`trace_id` varchar(32),
	CONSTRAINT `job_attempts_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `job_controls` (
	`kind` varchar(64) NOT NULL,
	`paused` boolean NOT NULL DEFAULT false,
	`changed_at` datetime(3) NOT NULL,
	`changed_by` varchar(255),
	CONSTRAINT `job_controls_kind` PRIMARY KEY(`kind`)
);
--> statement-breakpoint
ALTER TABLE `jobs` ADD `run` varchar(40);--> statement-breakpoint
CREATE INDEX `dead_letters_group_idx` ON `dead_letters` (`group_id`,`dead_at`);--> statement-breakpoint
CREATE INDEX `dead_letters_kind_idx` ON `dead_letters` (`kind`,`dead_at`);--> statement-breakpoint
CREATE INDEX `dead_letters_user_idx` ON `dead_letters` (`user_id`,`dead_at`);--> statement-breakpoint
CREATE INDEX `dead_letters_dead_at_idx` ON `dead_letters` (`dead_at`);--> statement-breakpoint
CREATE INDEX `attempts_job_idx` ON `job_attempts` (`job_id`,`id`);