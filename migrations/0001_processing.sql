ALTER TABLE `events` ADD `keep_gps` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `photos` ADD `content_type` text;--> statement-breakpoint
ALTER TABLE `photos` ADD `sha256` text;--> statement-breakpoint
ALTER TABLE `photos` ADD `width` integer;--> statement-breakpoint
ALTER TABLE `photos` ADD `height` integer;--> statement-breakpoint
ALTER TABLE `photos` ADD `orientation` integer;--> statement-breakpoint
ALTER TABLE `photos` ADD `taken_at` integer;--> statement-breakpoint
ALTER TABLE `photos` ADD `camera_make` text;--> statement-breakpoint
ALTER TABLE `photos` ADD `camera_model` text;--> statement-breakpoint
ALTER TABLE `photos` ADD `gps_latitude` real;--> statement-breakpoint
ALTER TABLE `photos` ADD `gps_longitude` real;--> statement-breakpoint
ALTER TABLE `photos` ADD `scrubbed_key` text;--> statement-breakpoint
ALTER TABLE `photos` ADD `thumb_small_key` text;--> statement-breakpoint
ALTER TABLE `photos` ADD `thumb_large_key` text;--> statement-breakpoint
ALTER TABLE `photos` ADD `thumbnail_state` text;--> statement-breakpoint
ALTER TABLE `photos` ADD `duplicate_of` text;--> statement-breakpoint
ALTER TABLE `photos` ADD `processing_attempts` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `photos` ADD `processed_at` integer;--> statement-breakpoint
CREATE INDEX `photos_event_sha256` ON `photos` (`event_id`,`sha256`);