CREATE TABLE `decision_links` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`task_id` text NOT NULL,
	`token_hash` text NOT NULL,
	`email` text NOT NULL,
	`question` text,
	`options` text DEFAULT '[]' NOT NULL,
	`expires_at` text NOT NULL,
	`used_at` text,
	`comment_id` text,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `decision_links_hash_unique` ON `decision_links` (`token_hash`);--> statement-breakpoint
CREATE INDEX `decision_links_task_idx` ON `decision_links` (`task_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `recurrences` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`content` text NOT NULL,
	`description` text,
	`project_id` text,
	`labels` text DEFAULT '[]' NOT NULL,
	`priority` integer DEFAULT 1 NOT NULL,
	`assigned_to_agent_id` text,
	`created_by_agent_id` text NOT NULL,
	`rule_type` text NOT NULL,
	`interval` integer DEFAULT 1 NOT NULL,
	`timezone` text DEFAULT 'UTC' NOT NULL,
	`anchor_day` integer,
	`anchor_month` integer,
	`anchor_weekday` integer,
	`time_of_day` text DEFAULT '00:00:00' NOT NULL,
	`next_due_at` text NOT NULL,
	`active` integer DEFAULT true NOT NULL,
	`skip_if_open` integer DEFAULT false NOT NULL,
	`last_task_id` text,
	`last_spawned_at` text,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `recurrences_account_idx` ON `recurrences` (`account_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `recurrences_due_idx` ON `recurrences` (`active`,`next_due_at`);