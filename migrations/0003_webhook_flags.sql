-- accounts.active_webhooks follows the webhooks table inside the writing statement, whoever
-- writes (routes, the delivery consumer disabling a failing webhook), so it is always exact.

CREATE TRIGGER `webhooks_active_after_insert` AFTER INSERT ON `webhooks` WHEN NEW.`active` = 1 BEGIN
  UPDATE `accounts` SET `active_webhooks` = `active_webhooks` + 1 WHERE `id` = NEW.`account_id`;
END;

CREATE TRIGGER `webhooks_active_after_delete` AFTER DELETE ON `webhooks` WHEN OLD.`active` = 1 BEGIN
  UPDATE `accounts` SET `active_webhooks` = `active_webhooks` - 1 WHERE `id` = OLD.`account_id`;
END;

CREATE TRIGGER `webhooks_active_after_update` AFTER UPDATE OF `active` ON `webhooks` WHEN NEW.`active` IS NOT OLD.`active` BEGIN
  UPDATE `accounts` SET `active_webhooks` = `active_webhooks` + (CASE WHEN NEW.`active` = 1 THEN 1 ELSE -1 END) WHERE `id` = NEW.`account_id`;
END;
