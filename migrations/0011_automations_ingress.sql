CREATE TABLE `automation_effects` (
	`key` text PRIMARY KEY NOT NULL,
	`origin_event_id` text NOT NULL,
	`rule_id` text NOT NULL,
	`account_id` text NOT NULL,
	`created_task_id` text,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `automation_effects_origin_idx` ON `automation_effects` (`origin_event_id`);--> statement-breakpoint
CREATE INDEX `automation_effects_created_task_idx` ON `automation_effects` (`created_task_id`);--> statement-breakpoint
CREATE TABLE `automation_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`rule_id` text NOT NULL,
	`account_id` text NOT NULL,
	`event_id` text NOT NULL,
	`event` text NOT NULL,
	`task_id` text,
	`hop` integer NOT NULL,
	`status` text NOT NULL,
	`actions` text NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `automation_runs_rule_event_unique` ON `automation_runs` (`rule_id`,`event_id`);--> statement-breakpoint
CREATE INDEX `automation_runs_rule_idx` ON `automation_runs` (`rule_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `automations` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`name` text NOT NULL,
	`event` text NOT NULL,
	`conditions` text DEFAULT '[]' NOT NULL,
	`actions` text NOT NULL,
	`active` integer DEFAULT true NOT NULL,
	`created_by_agent_id` text NOT NULL,
	`run_count` integer DEFAULT 0 NOT NULL,
	`failure_count` integer DEFAULT 0 NOT NULL,
	`last_run_at` text,
	`disabled_reason` text,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `automations_account_event_idx` ON `automations` (`account_id`,`event`,`active`);--> statement-breakpoint
CREATE TABLE `ingress_dedupe_keys` (
	`source_id` text NOT NULL,
	`key_sha256` text NOT NULL,
	`task_id` text NOT NULL,
	`created_at` text NOT NULL,
	PRIMARY KEY(`source_id`, `key_sha256`)
);
--> statement-breakpoint
CREATE TABLE `ingress_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`source_id` text NOT NULL,
	`account_id` text NOT NULL,
	`outcome` text NOT NULL,
	`status_code` integer NOT NULL,
	`body_sha256` text NOT NULL,
	`body_bytes` integer NOT NULL,
	`signature_sha256` text,
	`task_id` text,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `ingress_deliveries_source_idx` ON `ingress_deliveries` (`source_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `ingress_deliveries_signature_idx` ON `ingress_deliveries` (`source_id`,`signature_sha256`);--> statement-breakpoint
CREATE TABLE `ingress_sources` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`name` text NOT NULL,
	`secret` text NOT NULL,
	`template` text NOT NULL,
	`filters` text DEFAULT '[]' NOT NULL,
	`default_project_id` text,
	`default_assignee_agent_id` text,
	`active` integer DEFAULT true NOT NULL,
	`created_by_agent_id` text NOT NULL,
	`delivery_count` integer DEFAULT 0 NOT NULL,
	`last_delivery_at` text,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `ingress_sources_account_idx` ON `ingress_sources` (`account_id`,`created_at`);--> statement-breakpoint
ALTER TABLE `accounts` ADD `active_automations` integer DEFAULT 0 NOT NULL;