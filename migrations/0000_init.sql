CREATE TABLE `accounts` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text,
	`status` text NOT NULL,
	`plan` text DEFAULT 'free' NOT NULL,
	`default_agent_id` text,
	`stripe_customer_id` text,
	`active_webhooks` integer DEFAULT 0 NOT NULL,
	`claimed_at` text,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `agents` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`name` text NOT NULL,
	`display_name` text,
	`description` text,
	`role` text DEFAULT 'worker' NOT NULL,
	`key_hash` text NOT NULL,
	`key_prefix` text NOT NULL,
	`active` integer DEFAULT true NOT NULL,
	`sandbox_project_id` text,
	`use_case` text,
	`key_rotated_at` text,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `agents_key_hash_unique` ON `agents` (`key_hash`);--> statement-breakpoint
CREATE UNIQUE INDEX `agents_account_name_unique` ON `agents` (`account_id`,`name`);--> statement-breakpoint
CREATE TABLE `claim_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`agent_id` text NOT NULL,
	`email` text NOT NULL,
	`token_hash` text NOT NULL,
	`expires_at` text NOT NULL,
	`used_at` text,
	`created_at` text NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`agent_id`) REFERENCES `agents`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `claim_tokens_hash_unique` ON `claim_tokens` (`token_hash`);--> statement-breakpoint
CREATE INDEX `claim_tokens_account_idx` ON `claim_tokens` (`account_id`);--> statement-breakpoint
CREATE TABLE `comments` (
	`id` text PRIMARY KEY NOT NULL,
	`task_id` text NOT NULL,
	`account_id` text NOT NULL,
	`agent_id` text,
	`author` text,
	`content` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `comments_task_idx` ON `comments` (`task_id`,`created_at`,`id`);--> statement-breakpoint
CREATE TABLE `dev_mailbox` (
	`id` text PRIMARY KEY NOT NULL,
	`to` text NOT NULL,
	`subject` text NOT NULL,
	`text` text NOT NULL,
	`html` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `dev_mailbox_to_idx` ON `dev_mailbox` (`to`,`id`);--> statement-breakpoint
CREATE TABLE `email_codes` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`email` text NOT NULL,
	`purpose` text NOT NULL,
	`code_hash` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`expires_at` text NOT NULL,
	`used_at` text,
	`created_at` text NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `email_codes_lookup_idx` ON `email_codes` (`email`,`purpose`,`created_at`);--> statement-breakpoint
CREATE TABLE `idempotency_keys` (
	`scope_key` text PRIMARY KEY NOT NULL,
	`request_hash` text NOT NULL,
	`status` integer,
	`body` text,
	`headers` text,
	`created_at` text NOT NULL,
	`expires_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `idempotency_keys_expires_idx` ON `idempotency_keys` (`expires_at`);--> statement-breakpoint
CREATE TABLE `projects` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`name` text NOT NULL,
	`emoji` text,
	`color` text,
	`sort_order` integer DEFAULT 0 NOT NULL,
	`is_sandbox` integer DEFAULT false NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `projects_account_sort_idx` ON `projects` (`account_id`,`sort_order`,`id`);--> statement-breakpoint
CREATE TABLE `runs` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`agent_id` text NOT NULL,
	`task_id` text NOT NULL,
	`claimed_at` text NOT NULL,
	`claimed_at_ms` integer NOT NULL,
	`ended_at` text,
	`outcome` text,
	`duration_ms` integer
);
--> statement-breakpoint
CREATE INDEX `runs_agent_idx` ON `runs` (`agent_id`,`claimed_at`);--> statement-breakpoint
CREATE INDEX `runs_task_open_idx` ON `runs` (`task_id`,`ended_at`);--> statement-breakpoint
CREATE INDEX `runs_account_outcome_idx` ON `runs` (`account_id`,`outcome`,`ended_at`);--> statement-breakpoint
CREATE TABLE `subtasks` (
	`id` text PRIMARY KEY NOT NULL,
	`task_id` text NOT NULL,
	`account_id` text NOT NULL,
	`content` text NOT NULL,
	`completed` integer DEFAULT false NOT NULL,
	`sort_order` integer DEFAULT 0 NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `subtasks_task_idx` ON `subtasks` (`task_id`,`sort_order`,`id`);--> statement-breakpoint
CREATE TABLE `task_context_history` (
	`id` text PRIMARY KEY NOT NULL,
	`task_id` text NOT NULL,
	`account_id` text NOT NULL,
	`key` text NOT NULL,
	`value` text,
	`version` integer NOT NULL,
	`source` text NOT NULL,
	`agent_id` text,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `task_context_history_task_key_idx` ON `task_context_history` (`task_id`,`key`,`version`);--> statement-breakpoint
CREATE TABLE `task_counts` (
	`account_id` text NOT NULL,
	`dim` text NOT NULL,
	`n` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`account_id`, `dim`)
);
--> statement-breakpoint
CREATE TABLE `task_labels` (
	`task_id` text NOT NULL,
	`account_id` text NOT NULL,
	`label` text NOT NULL,
	`created_at` text NOT NULL,
	PRIMARY KEY(`task_id`, `label`)
);
--> statement-breakpoint
CREATE INDEX `task_labels_account_label_idx` ON `task_labels` (`account_id`,`label`,`created_at`,`task_id`);--> statement-breakpoint
CREATE TABLE `task_links` (
	`id` text PRIMARY KEY NOT NULL,
	`task_id` text NOT NULL,
	`account_id` text NOT NULL,
	`kind` text NOT NULL,
	`repo` text,
	`ref` text NOT NULL,
	`url` text,
	`created_by_agent_id` text,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `task_links_task_idx` ON `task_links` (`task_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `tasks` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`project_id` text,
	`parent_task_id` text,
	`root_task_id` text NOT NULL,
	`depth` integer DEFAULT 0 NOT NULL,
	`content` text NOT NULL,
	`description` text,
	`priority` integer DEFAULT 1 NOT NULL,
	`labels` text DEFAULT '[]' NOT NULL,
	`due_date` text,
	`assigned_to_agent_id` text,
	`created_by_agent_id` text NOT NULL,
	`accountable_agent_id` text,
	`status` text DEFAULT 'open' NOT NULL,
	`completed` integer DEFAULT false NOT NULL,
	`completed_at` text,
	`completed_by_agent_id` text,
	`claimed_by_agent_id` text,
	`claimed_at` text,
	`lease_expires_at` text,
	`last_heartbeat_at` text,
	`session_state` text,
	`state_detail` text,
	`handoff` text,
	`evidence` text DEFAULT '[]' NOT NULL,
	`evidence_policy` text,
	`context` text DEFAULT '{}' NOT NULL,
	`context_version` integer DEFAULT 0 NOT NULL,
	`reopen_count` integer DEFAULT 0 NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `tasks_account_created_idx` ON `tasks` (`account_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_account_project_idx` ON `tasks` (`account_id`,`project_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_account_completed_idx` ON `tasks` (`account_id`,`completed`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_account_priority_idx` ON `tasks` (`account_id`,`priority`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_account_due_idx` ON `tasks` (`account_id`,`due_date`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_account_assigned_idx` ON `tasks` (`account_id`,`assigned_to_agent_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_account_claimed_by_idx` ON `tasks` (`account_id`,`claimed_by_agent_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_account_creator_idx` ON `tasks` (`account_id`,`created_by_agent_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `tasks_account_accountable_idx` ON `tasks` (`account_id`,`accountable_agent_id`);--> statement-breakpoint
CREATE INDEX `tasks_account_completed_by_idx` ON `tasks` (`account_id`,`completed_by_agent_id`);--> statement-breakpoint
CREATE INDEX `tasks_account_lease_idx` ON `tasks` (`account_id`,`lease_expires_at`);--> statement-breakpoint
CREATE INDEX `tasks_parent_idx` ON `tasks` (`parent_task_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `tasks_root_idx` ON `tasks` (`root_task_id`,`depth`);--> statement-breakpoint
CREATE INDEX `tasks_queue_idx` ON `tasks` (`account_id`,`status`,`priority`,`created_at`);--> statement-breakpoint
CREATE TABLE `usage_counters` (
	`account_id` text NOT NULL,
	`period` text NOT NULL,
	`tasks_created` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`account_id`, `period`)
);
--> statement-breakpoint
CREATE TABLE `users` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`email` text NOT NULL,
	`name` text,
	`verified_at` text,
	`created_at` text NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_email_unique` ON `users` (`email`);--> statement-breakpoint
CREATE INDEX `users_account_idx` ON `users` (`account_id`);--> statement-breakpoint
CREATE TABLE `webhook_attempts` (
	`id` text PRIMARY KEY NOT NULL,
	`delivery_id` text NOT NULL,
	`webhook_id` text NOT NULL,
	`attempt` integer NOT NULL,
	`status_code` integer,
	`error` text,
	`duration_ms` integer NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `webhook_attempts_delivery_idx` ON `webhook_attempts` (`delivery_id`,`attempt`);--> statement-breakpoint
CREATE TABLE `webhook_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`webhook_id` text NOT NULL,
	`account_id` text NOT NULL,
	`event` text NOT NULL,
	`payload` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_status_code` integer,
	`last_error` text,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `webhook_deliveries_webhook_idx` ON `webhook_deliveries` (`webhook_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `webhooks` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`url` text NOT NULL,
	`events` text NOT NULL,
	`secret` text NOT NULL,
	`active` integer DEFAULT true NOT NULL,
	`description` text,
	`consecutive_failures` integer DEFAULT 0 NOT NULL,
	`disabled_reason` text,
	`disabled_at` text,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `webhooks_account_idx` ON `webhooks` (`account_id`,`active`);