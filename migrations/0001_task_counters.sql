-- Triggers that keep task_labels (the indexed mirror of tasks.labels) and task_counts (exact
-- per-dimension totals for X-Total-Count) in step with tasks. They run inside the writing
-- statement, so every writer (task routes, the claim queue) stays exact at no extra round trip.
-- Dimensions: all, completed:<0|1>, priority:<n>, project:<id>, project_done:<id>,
-- assigned:<id>, label:<name>, agent:<id> (tasks a worker agent sees: created, assigned,
-- claimed or completed by it, each task once).
-- Hand-written (drizzle cannot express triggers): regenerating 0000_init.sql must keep this file.

CREATE TRIGGER `tasks_labels_after_insert` AFTER INSERT ON `tasks` BEGIN
  INSERT OR IGNORE INTO `task_labels` (`task_id`, `account_id`, `label`, `created_at`)
    SELECT NEW.`id`, NEW.`account_id`, `value`, NEW.`created_at` FROM json_each(NEW.`labels`) WHERE `type` = 'text';
END;

CREATE TRIGGER `tasks_labels_after_update` AFTER UPDATE OF `labels` ON `tasks` WHEN NEW.`labels` IS NOT OLD.`labels` BEGIN
  DELETE FROM `task_labels` WHERE `task_id` = NEW.`id`;
  INSERT OR IGNORE INTO `task_labels` (`task_id`, `account_id`, `label`, `created_at`)
    SELECT NEW.`id`, NEW.`account_id`, `value`, NEW.`created_at` FROM json_each(NEW.`labels`) WHERE `type` = 'text';
END;

CREATE TRIGGER `tasks_labels_after_delete` AFTER DELETE ON `tasks` BEGIN
  DELETE FROM `task_labels` WHERE `task_id` = OLD.`id`;
END;

CREATE TRIGGER `task_labels_count_after_insert` AFTER INSERT ON `task_labels` BEGIN
  INSERT INTO `task_counts` (`account_id`, `dim`, `n`) VALUES (NEW.`account_id`, 'label:' || NEW.`label`, 1)
    ON CONFLICT (`account_id`, `dim`) DO UPDATE SET `n` = `n` + 1;
END;

CREATE TRIGGER `task_labels_count_after_delete` AFTER DELETE ON `task_labels` BEGIN
  UPDATE `task_counts` SET `n` = `n` - 1 WHERE `account_id` = OLD.`account_id` AND `dim` = 'label:' || OLD.`label`;
END;

CREATE TRIGGER `tasks_count_after_insert` AFTER INSERT ON `tasks` BEGIN
  INSERT INTO `task_counts` (`account_id`, `dim`, `n`)
    SELECT NEW.`account_id`, `d`, 1 FROM (SELECT DISTINCT `column1` AS `d` FROM (VALUES
      ('all'),
      ('completed:' || NEW.`completed`),
      ('priority:' || NEW.`priority`),
      ('project:' || NEW.`project_id`),
      (CASE WHEN NEW.`completed` THEN 'project_done:' || NEW.`project_id` END),
      ('assigned:' || NEW.`assigned_to_agent_id`),
      ('agent:' || NEW.`created_by_agent_id`),
      ('agent:' || NEW.`assigned_to_agent_id`),
      ('agent:' || NEW.`claimed_by_agent_id`),
      ('agent:' || NEW.`completed_by_agent_id`)
    )) WHERE `d` IS NOT NULL
    ON CONFLICT (`account_id`, `dim`) DO UPDATE SET `n` = `n` + 1;
END;

CREATE TRIGGER `tasks_count_after_delete` AFTER DELETE ON `tasks` BEGIN
  UPDATE `task_counts` SET `n` = `n` - 1 WHERE `account_id` = OLD.`account_id` AND `dim` IN (
      'all',
      'completed:' || OLD.`completed`,
      'priority:' || OLD.`priority`,
      'project:' || OLD.`project_id`,
      CASE WHEN OLD.`completed` THEN 'project_done:' || OLD.`project_id` END,
      'assigned:' || OLD.`assigned_to_agent_id`,
      'agent:' || OLD.`created_by_agent_id`,
      'agent:' || OLD.`assigned_to_agent_id`,
      'agent:' || OLD.`claimed_by_agent_id`,
      'agent:' || OLD.`completed_by_agent_id`
    );
END;

CREATE TRIGGER `tasks_count_after_update` AFTER UPDATE OF `completed`, `priority`, `project_id`, `assigned_to_agent_id`, `created_by_agent_id`, `claimed_by_agent_id`, `completed_by_agent_id` ON `tasks`
WHEN OLD.`completed` IS NOT NEW.`completed` OR OLD.`priority` IS NOT NEW.`priority` OR OLD.`project_id` IS NOT NEW.`project_id` OR OLD.`assigned_to_agent_id` IS NOT NEW.`assigned_to_agent_id` OR OLD.`created_by_agent_id` IS NOT NEW.`created_by_agent_id` OR OLD.`claimed_by_agent_id` IS NOT NEW.`claimed_by_agent_id` OR OLD.`completed_by_agent_id` IS NOT NEW.`completed_by_agent_id`
BEGIN
  UPDATE `task_counts` SET `n` = `n` - 1 WHERE `account_id` = OLD.`account_id` AND `dim` IN (
      'completed:' || OLD.`completed`,
      'priority:' || OLD.`priority`,
      'project:' || OLD.`project_id`,
      CASE WHEN OLD.`completed` THEN 'project_done:' || OLD.`project_id` END,
      'assigned:' || OLD.`assigned_to_agent_id`,
      'agent:' || OLD.`created_by_agent_id`,
      'agent:' || OLD.`assigned_to_agent_id`,
      'agent:' || OLD.`claimed_by_agent_id`,
      'agent:' || OLD.`completed_by_agent_id`
    );
  INSERT INTO `task_counts` (`account_id`, `dim`, `n`)
    SELECT NEW.`account_id`, `d`, 1 FROM (SELECT DISTINCT `column1` AS `d` FROM (VALUES
      ('completed:' || NEW.`completed`),
      ('priority:' || NEW.`priority`),
      ('project:' || NEW.`project_id`),
      (CASE WHEN NEW.`completed` THEN 'project_done:' || NEW.`project_id` END),
      ('assigned:' || NEW.`assigned_to_agent_id`),
      ('agent:' || NEW.`created_by_agent_id`),
      ('agent:' || NEW.`assigned_to_agent_id`),
      ('agent:' || NEW.`claimed_by_agent_id`),
      ('agent:' || NEW.`completed_by_agent_id`)
    )) WHERE `d` IS NOT NULL
    ON CONFLICT (`account_id`, `dim`) DO UPDATE SET `n` = `n` + 1;
END;
