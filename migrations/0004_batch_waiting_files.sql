ALTER TABLE `batches` ADD `waiting_files` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `batches` ADD `active_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `batches_active` ON `batches` (`event_id`,`active_at`);--> statement-breakpoint
ALTER TABLE `batches` DROP COLUMN `file_count`;