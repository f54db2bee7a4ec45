CREATE TABLE `claim_guesses` (
	`id` text PRIMARY KEY NOT NULL,
	`event_id` text NOT NULL,
	`address_hash` text NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `claim_guesses_event` ON `claim_guesses` (`event_id`,`at`);--> statement-breakpoint
CREATE INDEX `claim_guesses_address` ON `claim_guesses` (`address_hash`,`at`);--> statement-breakpoint
CREATE TABLE `claims` (
	`id` text PRIMARY KEY NOT NULL,
	`event_id` text NOT NULL,
	`device_id` text NOT NULL,
	`code_hash` text NOT NULL,
	`last_used_at` integer,
	`revoked_at` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	FOREIGN KEY (`event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `claims_code` ON `claims` (`event_id`,`code_hash`);--> statement-breakpoint
CREATE INDEX `claims_device` ON `claims` (`event_id`,`device_id`);--> statement-breakpoint
ALTER TABLE `events` ADD `gallery_opens_at` integer;--> statement-breakpoint
ALTER TABLE `events` ADD `max_photos_per_guest` integer;