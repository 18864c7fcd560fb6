-- Full-text index behind `GET /v1/tasks?search=`: case-insensitive substring search over a
-- task's content and description. The trigram tokenizer indexes every 3-character window, so a
-- phrase query for a term of 3+ characters is exactly a substring test and is answered from the
-- index, newest first by rowid, instead of reading every task of the account with LIKE '%term%'.
-- External content: the text lives only in tasks (the index stores trigrams and rowids, no copy);
-- columnsize=0 drops the per-row size table, which only ranking (bm25) would need.
-- The triggers keep the index in step inside the writing statement, like 0001's counters.
-- Hand-written (drizzle cannot express virtual tables or triggers): regenerating 0000_init.sql
-- must keep this file.

CREATE VIRTUAL TABLE `tasks_fts` USING fts5(
  `content`,
  `description`,
  content = 'tasks',
  content_rowid = 'rowid',
  tokenize = 'trigram case_sensitive 0',
  columnsize = 0
);

CREATE TRIGGER `tasks_fts_after_insert` AFTER INSERT ON `tasks` BEGIN
  INSERT INTO `tasks_fts` (`rowid`, `content`, `description`) VALUES (NEW.`rowid`, NEW.`content`, NEW.`description`);
END;

CREATE TRIGGER `tasks_fts_after_update` AFTER UPDATE OF `content`, `description` ON `tasks`
WHEN OLD.`content` IS NOT NEW.`content` OR OLD.`description` IS NOT NEW.`description`
BEGIN
  INSERT INTO `tasks_fts` (`tasks_fts`, `rowid`, `content`, `description`) VALUES ('delete', OLD.`rowid`, OLD.`content`, OLD.`description`);
  INSERT INTO `tasks_fts` (`rowid`, `content`, `description`) VALUES (NEW.`rowid`, NEW.`content`, NEW.`description`);
END;

CREATE TRIGGER `tasks_fts_after_delete` AFTER DELETE ON `tasks` BEGIN
  INSERT INTO `tasks_fts` (`tasks_fts`, `rowid`, `content`, `description`) VALUES ('delete', OLD.`rowid`, OLD.`content`, OLD.`description`);
END;

-- Index the tasks that exist before this migration.
INSERT INTO `tasks_fts` (`tasks_fts`) VALUES ('rebuild');
