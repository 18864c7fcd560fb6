-- labelled_tasks: a copy of each task row (every column but the context) per label it
-- carries, clustered by (account_id, label, created_at, id). A label listing (GET /v1/tasks?label=)
-- then reads its page straight from this table in index order: one row read per task on the
-- page, where a join of task_labels to tasks reads two. Triggers keep the copies in the same
-- statement as every task write; an update that keeps the task's labels and key rewrites the
-- copies in place by primary key. Columns must stay those of `tasks` minus `context`
-- (test/tasks-perf.test.ts checks). Hand-written: drizzle-kit does not know WITHOUT ROWID, so the
-- table is declared for queries in src/db/labelled-tasks.ts, outside the drizzle schema.

CREATE TABLE `labelled_tasks` (
  `label` text NOT NULL,
  `id` text NOT NULL,
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
  `context_version` integer DEFAULT 0 NOT NULL,
  `reopen_count` integer DEFAULT 0 NOT NULL,
  `created_at` text NOT NULL,
  `updated_at` text NOT NULL,
  PRIMARY KEY (`account_id`, `label`, `created_at`, `id`)
) WITHOUT ROWID;

INSERT OR IGNORE INTO `labelled_tasks` (`label`, `id`, `account_id`, `project_id`, `parent_task_id`, `root_task_id`, `depth`, `content`, `description`, `priority`, `labels`, `due_date`, `assigned_to_agent_id`, `created_by_agent_id`, `accountable_agent_id`, `status`, `completed`, `completed_at`, `completed_by_agent_id`, `claimed_by_agent_id`, `claimed_at`, `lease_expires_at`, `last_heartbeat_at`, `session_state`, `state_detail`, `handoff`, `evidence`, `evidence_policy`, `context_version`, `reopen_count`, `created_at`, `updated_at`)
  SELECT j.`value`, t.`id`, t.`account_id`, t.`project_id`, t.`parent_task_id`, t.`root_task_id`, t.`depth`, t.`content`, t.`description`, t.`priority`, t.`labels`, t.`due_date`, t.`assigned_to_agent_id`, t.`created_by_agent_id`, t.`accountable_agent_id`, t.`status`, t.`completed`, t.`completed_at`, t.`completed_by_agent_id`, t.`claimed_by_agent_id`, t.`claimed_at`, t.`lease_expires_at`, t.`last_heartbeat_at`, t.`session_state`, t.`state_detail`, t.`handoff`, t.`evidence`, t.`evidence_policy`, t.`context_version`, t.`reopen_count`, t.`created_at`, t.`updated_at`
  FROM `tasks` t, json_each(t.`labels`) j WHERE j.`type` = 'text';

CREATE TRIGGER `labelled_tasks_after_insert` AFTER INSERT ON `tasks` WHEN NEW.`labels` <> '[]' BEGIN
  INSERT OR IGNORE INTO `labelled_tasks` (`label`, `id`, `account_id`, `project_id`, `parent_task_id`, `root_task_id`, `depth`, `content`, `description`, `priority`, `labels`, `due_date`, `assigned_to_agent_id`, `created_by_agent_id`, `accountable_agent_id`, `status`, `completed`, `completed_at`, `completed_by_agent_id`, `claimed_by_agent_id`, `claimed_at`, `lease_expires_at`, `last_heartbeat_at`, `session_state`, `state_detail`, `handoff`, `evidence`, `evidence_policy`, `context_version`, `reopen_count`, `created_at`, `updated_at`)
    SELECT `value`, NEW.`id`, NEW.`account_id`, NEW.`project_id`, NEW.`parent_task_id`, NEW.`root_task_id`, NEW.`depth`, NEW.`content`, NEW.`description`, NEW.`priority`, NEW.`labels`, NEW.`due_date`, NEW.`assigned_to_agent_id`, NEW.`created_by_agent_id`, NEW.`accountable_agent_id`, NEW.`status`, NEW.`completed`, NEW.`completed_at`, NEW.`completed_by_agent_id`, NEW.`claimed_by_agent_id`, NEW.`claimed_at`, NEW.`lease_expires_at`, NEW.`last_heartbeat_at`, NEW.`session_state`, NEW.`state_detail`, NEW.`handoff`, NEW.`evidence`, NEW.`evidence_policy`, NEW.`context_version`, NEW.`reopen_count`, NEW.`created_at`, NEW.`updated_at` FROM json_each(NEW.`labels`) WHERE `type` = 'text';
END;

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
    `handoff` = NEW.`handoff`,
    `evidence` = NEW.`evidence`,
    `evidence_policy` = NEW.`evidence_policy`,
    `context_version` = NEW.`context_version`,
    `reopen_count` = NEW.`reopen_count`,
    `updated_at` = NEW.`updated_at`
  WHERE `account_id` = NEW.`account_id` AND `label` IN (SELECT `value` FROM json_each(NEW.`labels`) WHERE `type` = 'text') AND `created_at` = NEW.`created_at` AND `id` = NEW.`id`;
END;

CREATE TRIGGER `labelled_tasks_after_update_moved` AFTER UPDATE ON `tasks`
  WHEN NOT (NEW.`labels` = OLD.`labels` AND NEW.`account_id` = OLD.`account_id` AND NEW.`created_at` = OLD.`created_at` AND NEW.`id` = OLD.`id`) BEGIN
  DELETE FROM `labelled_tasks` WHERE `account_id` = OLD.`account_id` AND `label` IN (SELECT `value` FROM json_each(OLD.`labels`) WHERE `type` = 'text') AND `created_at` = OLD.`created_at` AND `id` = OLD.`id`;
  INSERT OR IGNORE INTO `labelled_tasks` (`label`, `id`, `account_id`, `project_id`, `parent_task_id`, `root_task_id`, `depth`, `content`, `description`, `priority`, `labels`, `due_date`, `assigned_to_agent_id`, `created_by_agent_id`, `accountable_agent_id`, `status`, `completed`, `completed_at`, `completed_by_agent_id`, `claimed_by_agent_id`, `claimed_at`, `lease_expires_at`, `last_heartbeat_at`, `session_state`, `state_detail`, `handoff`, `evidence`, `evidence_policy`, `context_version`, `reopen_count`, `created_at`, `updated_at`)
    SELECT `value`, NEW.`id`, NEW.`account_id`, NEW.`project_id`, NEW.`parent_task_id`, NEW.`root_task_id`, NEW.`depth`, NEW.`content`, NEW.`description`, NEW.`priority`, NEW.`labels`, NEW.`due_date`, NEW.`assigned_to_agent_id`, NEW.`created_by_agent_id`, NEW.`accountable_agent_id`, NEW.`status`, NEW.`completed`, NEW.`completed_at`, NEW.`completed_by_agent_id`, NEW.`claimed_by_agent_id`, NEW.`claimed_at`, NEW.`lease_expires_at`, NEW.`last_heartbeat_at`, NEW.`session_state`, NEW.`state_detail`, NEW.`handoff`, NEW.`evidence`, NEW.`evidence_policy`, NEW.`context_version`, NEW.`reopen_count`, NEW.`created_at`, NEW.`updated_at` FROM json_each(NEW.`labels`) WHERE `type` = 'text';
END;

CREATE TRIGGER `labelled_tasks_after_delete` AFTER DELETE ON `tasks` WHEN OLD.`labels` <> '[]' BEGIN
  DELETE FROM `labelled_tasks` WHERE `account_id` = OLD.`account_id` AND `label` IN (SELECT `value` FROM json_each(OLD.`labels`) WHERE `type` = 'text') AND `created_at` = OLD.`created_at` AND `id` = OLD.`id`;
END;
