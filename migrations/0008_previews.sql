ALTER TABLE `photos` ADD `preview_key` text;--> statement-breakpoint
ALTER TABLE `photos` ADD `preview_phash` text;--> statement-breakpoint
ALTER TABLE `photos` ADD `preview_flagged` integer DEFAULT false NOT NULL;