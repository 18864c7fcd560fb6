CREATE TABLE `event_outbox` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`event` text NOT NULL,
	`agent_id` text,
	`task_id` text NOT NULL,
	`task` text,
	`cause` text,
	`created_at` text NOT NULL,
	`relayed_at` text
);
--> statement-breakpoint
CREATE INDEX `event_outbox_unrelayed_idx` ON `event_outbox` (`relayed_at`,`created_at`);