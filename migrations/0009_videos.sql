ALTER TABLE `events` ADD `videos_allowed` integer DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE `events` ADD `max_video_size` integer DEFAULT 524288000 NOT NULL;--> statement-breakpoint
ALTER TABLE `events` ADD `max_video_duration_s` integer DEFAULT 600 NOT NULL;--> statement-breakpoint
ALTER TABLE `photos` ADD `media_kind` text DEFAULT 'image' NOT NULL;--> statement-breakpoint
ALTER TABLE `photos` ADD `duration_s` real;