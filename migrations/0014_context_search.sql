-- Full-text index behind `GET /v1/context/search` (recall): every version of every context entry
-- (task_context_history rows; a removal, value NULL, has nothing to find). Contentless: the text
-- stays in task_context_history, joined back by rowid. `scope` is the account id as one token
-- (underscore dropped), so a search reads its own account's postings, never the whole index.
-- Hand-written (drizzle cannot express virtual tables or triggers).
CREATE VIRTUAL TABLE `context_fts` USING fts5(
  `scope`,
  `key`,
  `value`,
  content = '',
  contentless_delete = 1,
  tokenize = 'porter unicode61 remove_diacritics 2'
);--> statement-breakpoint

CREATE TRIGGER `context_fts_after_insert` AFTER INSERT ON `task_context_history` WHEN NEW.`value` IS NOT NULL BEGIN
  INSERT INTO `context_fts` (`rowid`, `scope`, `key`, `value`) VALUES (NEW.`rowid`, replace(NEW.`account_id`, '_', ''), NEW.`key`, NEW.`value`);
END;--> statement-breakpoint

CREATE TRIGGER `context_fts_after_delete` AFTER DELETE ON `task_context_history` WHEN OLD.`value` IS NOT NULL BEGIN
  DELETE FROM `context_fts` WHERE `rowid` = OLD.`rowid`;
END;--> statement-breakpoint

-- Index the entries that exist before this migration.
INSERT INTO `context_fts` (`rowid`, `scope`, `key`, `value`)
  SELECT `rowid`, replace(`account_id`, '_', ''), `key`, `value` FROM `task_context_history` WHERE `value` IS NOT NULL;
