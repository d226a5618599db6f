ALTER TABLE `webhooks` ADD `disabled_at` datetime(3);--> statement-breakpoint
ALTER TABLE `webhooks` ADD `disabled_reason` varchar(255);