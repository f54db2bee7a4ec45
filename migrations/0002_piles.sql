CREATE TABLE `sweeper_state` (
	`name` text PRIMARY KEY NOT NULL,
	`last_key` text,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `batches` ADD `file_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `batches_device` ON `batches` (`event_id`,`device_id`);--> statement-breakpoint
CREATE INDEX `batches_created` ON `batches` (`created_at`);--> statement-breakpoint
ALTER TABLE `photos` ADD `scrubbed_size` integer;--> statement-breakpoint
ALTER TABLE `photos` ADD `thumbnails_size` integer;--> statement-breakpoint
CREATE INDEX `photos_original` ON `photos` (`original_key`);--> statement-breakpoint
CREATE INDEX `upload_sessions_multipart_left` ON `upload_sessions` (`updated_at`) WHERE "upload_sessions"."status" in ('failed', 'cancelled', 'expired') and "upload_sessions"."multipart_upload_id" is not null;