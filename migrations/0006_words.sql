CREATE TABLE `messages` (
	`id` text PRIMARY KEY NOT NULL,
	`event_id` text NOT NULL,
	`join_token_id` text NOT NULL,
	`device_id` text NOT NULL,
	`display_name` text,
	`body` text NOT NULL,
	`status` text DEFAULT 'visible' NOT NULL,
	`approved_at` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`join_token_id`) REFERENCES `join_tokens`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `messages_event_page` ON `messages` (`event_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `messages_device` ON `messages` (`event_id`,`device_id`);--> statement-breakpoint
ALTER TABLE `batches` ADD `display_name` text;--> statement-breakpoint
ALTER TABLE `events` ADD `slideshow_messages` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `photos` ADD `display_name` text;--> statement-breakpoint
CREATE INDEX `photos_event_name` ON `photos` (`event_id`,`display_name`);--> statement-breakpoint
ALTER TABLE `upload_sessions` ADD `display_name` text;