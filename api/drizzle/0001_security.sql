-- Emails compared byte for byte (they are stored normalised: trim, NFC, lower case). Rows written
-- before this are normalised, and refused when two collide, by api/src/db/email-normalisation.ts
-- before this file runs (docs/security.md).
ALTER TABLE `users` MODIFY COLUMN `email` varchar(320) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `token_version` int DEFAULT 0 NOT NULL;
