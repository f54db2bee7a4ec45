CREATE TABLE `admin_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`token_hash` text NOT NULL,
	`event_ids` text,
	`expires_at` integer,
	`revoked_at` integer,
	`last_used_at` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `admin_tokens_token_hash` ON `admin_tokens` (`token_hash`);--> statement-breakpoint
CREATE TABLE `events` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`status` text DEFAULT 'open' NOT NULL,
	`max_file_size` integer NOT NULL,
	`chunk_size` integer NOT NULL,
	`session_ttl_seconds` integer NOT NULL,
	`max_concurrent_per_device` integer NOT NULL,
	`daily_cap_per_device` integer NOT NULL,
	`allowed_content_types` text NOT NULL,
	`keep_gps` integer DEFAULT false NOT NULL,
	`starts_at` integer,
	`ends_at` integer,
	`uploads_open_at` integer,
	`uploads_close_at` integer,
	`moderation_mode` text DEFAULT 'auto' NOT NULL,
	`gallery_enabled` integer DEFAULT false NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `join_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`event_id` text NOT NULL,
	`token_hash` text NOT NULL,
	`label` text,
	`expires_at` integer,
	`revoked_at` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `join_tokens_token_hash` ON `join_tokens` (`token_hash`);--> statement-breakpoint
CREATE INDEX `join_tokens_event` ON `join_tokens` (`event_id`);--> statement-breakpoint
CREATE TABLE `photos` (
	`id` text PRIMARY KEY NOT NULL,
	`event_id` text NOT NULL,
	`upload_id` text NOT NULL,
	`device_id` text NOT NULL,
	`status` text DEFAULT 'processing' NOT NULL,
	`original_key` text NOT NULL,
	`size` integer NOT NULL,
	`filename` text NOT NULL,
	`declared_content_type` text NOT NULL,
	`declared_sha256` text,
	`failure_reason` text,
	`content_type` text,
	`sha256` text,
	`width` integer,
	`height` integer,
	`orientation` integer,
	`taken_at` integer,
	`camera_make` text,
	`camera_model` text,
	`gps_latitude` real,
	`gps_longitude` real,
	`scrubbed_key` text,
	`thumb_small_key` text,
	`thumb_large_key` text,
	`thumbnail_state` text,
	`approved_at` integer,
	`duplicate_of` text,
	`processing_attempts` integer DEFAULT 0 NOT NULL,
	`processed_at` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`upload_id`) REFERENCES `upload_sessions`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `photos_upload` ON `photos` (`upload_id`);--> statement-breakpoint
CREATE INDEX `photos_event` ON `photos` (`event_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `photos_event_sha256` ON `photos` (`event_id`,`sha256`);--> statement-breakpoint
CREATE INDEX `photos_event_page` ON `photos` (`event_id`,`created_at`,`id`);--> statement-breakpoint
CREATE TABLE `upload_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`event_id` text NOT NULL,
	`join_token_id` text NOT NULL,
	`device_id` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`total_size` integer NOT NULL,
	`received_bytes` integer DEFAULT 0 NOT NULL,
	`chunk_size` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`failure_reason` text,
	`r2_key` text NOT NULL,
	`multipart_upload_id` text,
	`upload_key_hash` text NOT NULL,
	`declared_sha256` text,
	`filename` text NOT NULL,
	`content_type` text NOT NULL,
	`photo_id` text,
	`partial` integer DEFAULT false NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer NOT NULL,
	`completed_at` integer,
	FOREIGN KEY (`event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`join_token_id`) REFERENCES `join_tokens`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `upload_sessions_device` ON `upload_sessions` (`event_id`,`device_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `upload_sessions_sweep` ON `upload_sessions` (`status`,`expires_at`);