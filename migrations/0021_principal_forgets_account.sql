ALTER TABLE `principal_forgets` ADD `account_id` text;
--> statement-breakpoint
-- Key gates are per account now (access/key-gate.ts): each record names the account whose gate may hold the key.
DROP TRIGGER `agents_principal_after_update`;
--> statement-breakpoint
DROP TRIGGER `agents_principal_after_delete`;
--> statement-breakpoint
DROP TRIGGER `accounts_principal_after_update`;
--> statement-breakpoint
CREATE TRIGGER `agents_principal_after_update` AFTER UPDATE OF `name`, `role`, `active`, `key_hash`, `sandbox_project_id`, `account_id` ON `agents`
WHEN NEW.`name` IS NOT OLD.`name` OR NEW.`role` IS NOT OLD.`role` OR NEW.`active` IS NOT OLD.`active` OR NEW.`key_hash` IS NOT OLD.`key_hash`
  OR NEW.`sandbox_project_id` IS NOT OLD.`sandbox_project_id` OR NEW.`account_id` IS NOT OLD.`account_id` BEGIN
  INSERT INTO `principal_forgets` (`key_hash`, `account_id`) VALUES (OLD.`key_hash`, OLD.`account_id`);
END;
--> statement-breakpoint
CREATE TRIGGER `agents_principal_after_delete` AFTER DELETE ON `agents` BEGIN
  INSERT INTO `principal_forgets` (`key_hash`, `account_id`) VALUES (OLD.`key_hash`, OLD.`account_id`);
END;
--> statement-breakpoint
-- Account fields every key of the account caches; the listener counts matter only as none / some.
CREATE TRIGGER `accounts_principal_after_update` AFTER UPDATE OF `status`, `plan`, `default_agent_id`, `active_webhooks`, `active_automations` ON `accounts`
WHEN NEW.`status` IS NOT OLD.`status` OR NEW.`plan` IS NOT OLD.`plan` OR NEW.`default_agent_id` IS NOT OLD.`default_agent_id`
  OR (NEW.`active_webhooks` > 0) IS NOT (OLD.`active_webhooks` > 0) OR (NEW.`active_automations` > 0) IS NOT (OLD.`active_automations` > 0) BEGIN
  INSERT INTO `principal_forgets` (`key_hash`, `account_id`) SELECT `key_hash`, `account_id` FROM `agents` WHERE `account_id` = NEW.`id`;
END;
