CREATE TABLE `audit_log` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`actor_id` varchar(36) NOT NULL,
	`action` varchar(64) NOT NULL,
	`target` varchar(255),
	`count` int NOT NULL DEFAULT 0,
	`detail` json,
	`created_at` datetime(3) NOT NULL,
	CONSTRAINT `audit_log_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `idempotency_fences` (
	`user_id` varchar(36) NOT NULL,
	`key_hash` varchar(64) NOT NULL,
	`fingerprint` varchar(64) NOT NULL,
	`response_status` int NOT NULL,
	`response_body` mediumtext,
	`location` varchar(512),
	`created_at` datetime(3) NOT NULL,
	`expires_at` datetime(3) NOT NULL,
	CONSTRAINT `idempotency_fences_user_id_key_hash_pk` PRIMARY KEY(`user_id`,`key_hash`)
);
--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` varchar(36) NOT NULL,
	`note_id` varchar(36) NOT NULL,
	`user_id` varchar(36) NOT NULL,
	`kind` enum('note.process','webhook.deliver') NOT NULL,
	`priority` enum('low','normal','high','critical','max') NOT NULL,
	`status` enum('queued','processing','processed','failed','dead','discarded','skipped') NOT NULL DEFAULT 'queued',
	`note_version` int NOT NULL,
	`webhook_id` varchar(36),
	`attempts` int NOT NULL DEFAULT 0,
	`last_error` text,
	`dead_reason` text,
	`created_at` datetime(3) NOT NULL,
	`updated_at` datetime(3) NOT NULL,
	`started_at` datetime(3),
	`finished_at` datetime(3),
	CONSTRAINT `jobs_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `notes` (
	`id` varchar(36) NOT NULL,
	`user_id` varchar(36) NOT NULL,
	`title` varchar(200) NOT NULL,
	`body` mediumtext NOT NULL,
	`priority` enum('low','normal','high','critical','max') NOT NULL DEFAULT 'normal',
	`status` enum('queued','processing','processed','failed','dead') NOT NULL DEFAULT 'queued',
	`version` int NOT NULL DEFAULT 1,
	`result` json,
	`attempts` int NOT NULL DEFAULT 0,
	`last_error` text,
	`created_at` datetime(3) NOT NULL,
	`updated_at` datetime(3) NOT NULL,
	`processed_at` datetime(3),
	CONSTRAINT `notes_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `outbox` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`job_id` varchar(36) NOT NULL,
	`payload` text NOT NULL,
	`priority` enum('low','normal','high','critical','max') NOT NULL,
	`traceparent` varchar(128),
	`created_at` datetime(3) NOT NULL,
	`sent_at` datetime(3),
	`publish_attempts` int NOT NULL DEFAULT 0,
	`last_error` text,
	CONSTRAINT `outbox_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `processed_messages` (
	`message_key` varchar(191) NOT NULL,
	`created_at` datetime(3) NOT NULL,
	CONSTRAINT `processed_messages_message_key` PRIMARY KEY(`message_key`)
);
--> statement-breakpoint
CREATE TABLE `users` (
	`id` varchar(36) NOT NULL,
	`email` varchar(320) NOT NULL,
	`name` varchar(200) NOT NULL,
	`password_hash` varchar(255) NOT NULL,
	`role` enum('user','admin','service') NOT NULL DEFAULT 'user',
	`disabled` boolean NOT NULL DEFAULT false,
	`created_at` datetime(3) NOT NULL,
	`updated_at` datetime(3) NOT NULL,
	CONSTRAINT `users_id` PRIMARY KEY(`id`),
	CONSTRAINT `users_email_unique` UNIQUE(`email`)
);
--> statement-breakpoint
CREATE TABLE `webhooks` (
	`id` varchar(36) NOT NULL,
	`user_id` varchar(36) NOT NULL,
	`url` varchar(2048) NOT NULL,
	`events` json NOT NULL,
	`secret` varchar(128) NOT NULL,
	`created_at` datetime(3) NOT NULL,
	CONSTRAINT `webhooks_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE INDEX `audit_created_idx` ON `audit_log` (`created_at`);--> statement-breakpoint
CREATE INDEX `fences_expires_idx` ON `idempotency_fences` (`expires_at`);--> statement-breakpoint
CREATE INDEX `jobs_note_idx` ON `jobs` (`note_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `jobs_status_idx` ON `jobs` (`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `jobs_user_idx` ON `jobs` (`user_id`);--> statement-breakpoint
CREATE INDEX `notes_user_created_idx` ON `notes` (`user_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `notes_user_updated_idx` ON `notes` (`user_id`,`updated_at`);--> statement-breakpoint
CREATE INDEX `notes_user_status_idx` ON `notes` (`user_id`,`status`);--> statement-breakpoint
CREATE INDEX `notes_status_idx` ON `notes` (`status`);--> statement-breakpoint
CREATE INDEX `outbox_pending_idx` ON `outbox` (`sent_at`,`id`);--> statement-breakpoint
CREATE INDEX `processed_created_idx` ON `processed_messages` (`created_at`);--> statement-breakpoint
CREATE INDEX `webhooks_user_idx` ON `webhooks` (`user_id`);