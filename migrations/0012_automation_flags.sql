-- accounts.active_automations follows the automations table inside the writing statement, like
-- active_webhooks (0003), including a rule the engine deactivates after repeated failures.

CREATE TRIGGER `automations_active_after_insert` AFTER INSERT ON `automations` WHEN NEW.`active` = 1 BEGIN
  UPDATE `accounts` SET `active_automations` = `active_automations` + 1 WHERE `id` = NEW.`account_id`;
END;
CREATE TRIGGER `automations_active_after_delete` AFTER DELETE ON `automations` WHEN OLD.`active` = 1 BEGIN
  UPDATE `accounts` SET `active_automations` = `active_automations` - 1 WHERE `id` = OLD.`account_id`;
END;
CREATE TRIGGER `automations_active_after_update` AFTER UPDATE OF `active` ON `automations` WHEN NEW.`active` IS NOT OLD.`active` BEGIN
  UPDATE `accounts` SET `active_automations` = `active_automations` + (CASE WHEN NEW.`active` = 1 THEN 1 ELSE -1 END) WHERE `id` = NEW.`account_id`;
END;
