-- Handoff (a release's note, who left it, in which session state) and provenance (the recurrence
-- or inbound connector a task came from) on tasks. labelled_tasks copies every task column but the
-- context, so its triggers are recreated with the new column list (test/tasks-perf.test.ts checks).
DROP TRIGGER `labelled_tasks_after_insert`;--> statement-breakpoint
DROP TRIGGER `labelled_tasks_after_update_in_place`;--> statement-breakpoint
DROP TRIGGER `labelled_tasks_after_update_moved`;--> statement-breakpoint
ALTER TABLE `tasks` RENAME COLUMN `handoff` TO `handoff_note`;--> statement-breakpoint
ALTER TABLE `tasks` ADD `handoff_by_agent_id` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `handoff_state` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `source_recurrence_id` text;--> statement-breakpoint
ALTER TABLE `tasks` ADD `source_ingress_id` text;--> statement-breakpoint
ALTER TABLE `labelled_tasks` RENAME COLUMN `handoff` TO `handoff_note`;--> statement-breakpoint
ALTER TABLE `labelled_tasks` ADD `handoff_by_agent_id` text;--> statement-breakpoint
ALTER TABLE `labelled_tasks` ADD `handoff_state` text;--> statement-breakpoint
ALTER TABLE `labelled_tasks` ADD `source_recurrence_id` text;--> statement-breakpoint
ALTER TABLE `labelled_tasks` ADD `source_ingress_id` text;--> statement-breakpoint
CREATE TRIGGER `labelled_tasks_after_insert` AFTER INSERT ON `tasks` WHEN NEW.`labels` <> '[]' BEGIN
  INSERT OR IGNORE INTO `labelled_tasks` (`label`, `id`, `account_id`, `project_id`, `parent_task_id`, `root_task_id`, `depth`, `content`, `description`, `priority`, `labels`, `due_date`, `assigned_to_agent_id`, `created_by_agent_id`, `accountable_agent_id`, `status`, `completed`, `completed_at`, `completed_by_agent_id`, `claimed_by_agent_id`, `claimed_at`, `lease_expires_at`, `last_heartbeat_at`, `session_state`, `state_detail`, `handoff_note`, `handoff_by_agent_id`, `handoff_state`, `evidence`, `evidence_policy`, `context_version`, `reopen_count`, `source_recurrence_id`, `source_ingress_id`, `created_at`, `updated_at`)
    SELECT `value`, NEW.`id`, NEW.`account_id`, NEW.`project_id`, NEW.`parent_task_id`, NEW.`root_task_id`, NEW.`depth`, NEW.`content`, NEW.`description`, NEW.`priority`, NEW.`labels`, NEW.`due_date`, NEW.`assigned_to_agent_id`, NEW.`created_by_agent_id`, NEW.`accountable_agent_id`, NEW.`status`, NEW.`completed`, NEW.`completed_at`, NEW.`completed_by_agent_id`, NEW.`claimed_by_agent_id`, NEW.`claimed_at`, NEW.`lease_expires_at`, NEW.`last_heartbeat_at`, NEW.`session_state`, NEW.`state_detail`, NEW.`handoff_note`, NEW.`handoff_by_agent_id`, NEW.`handoff_state`, NEW.`evidence`, NEW.`evidence_policy`, NEW.`context_version`, NEW.`reopen_count`, NEW.`source_recurrence_id`, NEW.`source_ingress_id`, NEW.`created_at`, NEW.`updated_at` FROM json_each(NEW.`labels`) WHERE `type` = 'text';
END;--> statement-breakpoint
CREATE TRIGGER `labelled_tasks_after_update_in_place` AFTER UPDATE ON `tasks`
  WHEN NEW.`labels` <> '[]' AND NEW.`labels` = OLD.`labels` AND NEW.`account_id` = OLD.`account_id` AND NEW.`created_at` = OLD.`created_at` AND NEW.`id` = OLD.`id` BEGIN
  UPDATE `labelled_tasks` SET
    `project_id` = NEW.`project_id`,
    `parent_task_id` = NEW.`parent_task_id`,
    `root_task_id` = NEW.`root_task_id`,
    `depth` = NEW.`depth`,
    `content` = NEW.`content`,
    `description` = NEW.`description`,
    `priority` = NEW.`priority`,
    `labels` = NEW.`labels`,
    `due_date` = NEW.`due_date`,
    `assigned_to_agent_id` = NEW.`assigned_to_agent_id`,
    `created_by_agent_id` = NEW.`created_by_agent_id`,
    `accountable_agent_id` = NEW.`accountable_agent_id`,
    `status` = NEW.`status`,
    `completed` = NEW.`completed`,
    `completed_at` = NEW.`completed_at`,
    `completed_by_agent_id` = NEW.`completed_by_agent_id`,
    `claimed_by_agent_id` = NEW.`claimed_by_agent_id`,
    `claimed_at` = NEW.`claimed_at`,
    `lease_expires_at` = NEW.`lease_expires_at`,
    `last_heartbeat_at` = NEW.`last_heartbeat_at`,
    `session_state` = NEW.`session_state`,
    `state_detail` = NEW.`state_detail`,
    `handoff_note` = NEW.`handoff_note`,
    `handoff_by_agent_id` = NEW.`handoff_by_agent_id`,
    `handoff_state` = NEW.`handoff_state`,
    `evidence` = NEW.`evidence`,
    `evidence_policy` = NEW.`evidence_policy`,
    `context_version` = NEW.`context_version`,
    `reopen_count` = NEW.`reopen_count`,
    `source_recurrence_id` = NEW.`source_recurrence_id`,
    `source_ingress_id` = NEW.`source_ingress_id`,
    `updated_at` = NEW.`updated_at`
  WHERE `account_id` = NEW.`account_id` AND `label` IN (SELECT `value` FROM json_each(NEW.`labels`) WHERE `type` = 'text') AND `created_at` = NEW.`created_at` AND `id` = NEW.`id`;
END;--> statement-breakpoint
CREATE TRIGGER `labelled_tasks_after_update_moved` AFTER UPDATE ON `tasks`
  WHEN NOT (NEW.`labels` = OLD.`labels` AND NEW.`account_id` = OLD.`account_id` AND NEW.`created_at` = OLD.`created_at` AND NEW.`id` = OLD.`id`) BEGIN
  DELETE FROM `labelled_tasks` WHERE `account_id` = OLD.`account_id` AND `label` IN (SELECT `value` FROM json_each(OLD.`labels`) WHERE `type` = 'text') AND `created_at` = OLD.`created_at` AND `id` = OLD.`id`;
  INSERT OR IGNORE INTO `labelled_tasks` (`label`, `id`, `account_id`, `project_id`, `parent_task_id`, `root_task_id`, `depth`, `content`, `description`, `priority`, `labels`, `due_date`, `assigned_to_agent_id`, `created_by_agent_id`, `accountable_agent_id`, `status`, `completed`, `completed_at`, `completed_by_agent_id`, `claimed_by_agent_id`, `claimed_at`, `lease_expires_at`, `last_heartbeat_at`, `session_state`, `state_detail`, `handoff_note`, `handoff_by_agent_id`, `handoff_state`, `evidence`, `evidence_policy`, `context_version`, `reopen_count`, `source_recurrence_id`, `source_ingress_id`, `created_at`, `updated_at`)
    SELECT `value`, NEW.`id`, NEW.`account_id`, NEW.`project_id`, NEW.`parent_task_id`, NEW.`root_task_id`, NEW.`depth`, NEW.`content`, NEW.`description`, NEW.`priority`, NEW.`labels`, NEW.`due_date`, NEW.`assigned_to_agent_id`, NEW.`created_by_agent_id`, NEW.`accountable_agent_id`, NEW.`status`, NEW.`completed`, NEW.`completed_at`, NEW.`completed_by_agent_id`, NEW.`claimed_by_agent_id`, NEW.`claimed_at`, NEW.`lease_expires_at`, NEW.`last_heartbeat_at`, NEW.`session_state`, NEW.`state_detail`, NEW.`handoff_note`, NEW.`handoff_by_agent_id`, NEW.`handoff_state`, NEW.`evidence`, NEW.`evidence_policy`, NEW.`context_version`, NEW.`reopen_count`, NEW.`source_recurrence_id`, NEW.`source_ingress_id`, NEW.`created_at`, NEW.`updated_at` FROM json_each(NEW.`labels`) WHERE `type` = 'text';
END;
