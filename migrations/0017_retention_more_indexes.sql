CREATE INDEX `automation_effects_expiry_idx` ON `automation_effects` (`created_at`) WHERE created_task_id is null;--> statement-breakpoint
CREATE INDEX `automation_runs_created_idx` ON `automation_runs` (`created_at`);--> statement-breakpoint
CREATE INDEX `code_lockouts_updated_idx` ON `code_lockouts` (`updated_at`);--> statement-breakpoint
CREATE INDEX `ingress_deliveries_created_idx` ON `ingress_deliveries` (`created_at`);--> statement-breakpoint
CREATE INDEX `stripe_events_received_idx` ON `stripe_events` (`received_at`);