-- A worker's GET /v1/tasks reads the four ranges of the tasks it sees (created, assigned,
-- claimed, completed by it), each in the listing's order (created_at, id), so a page reads
-- rows in proportion to the page, not to the account (src/domain/task-list.ts). Three of
-- the four indexes already end in (created_at, id); this recreates the completed-by one so.
-- Hand-written, like 0001-0004; src/db/schema.ts declares the same index so drizzle and the
-- database agree. (account_id, completed_by_agent_id) stays its prefix, so its other uses
-- (GET /v1/stats for a worker) keep their plans.

DROP INDEX IF EXISTS `tasks_account_completed_by_idx`;
CREATE INDEX `tasks_account_completed_by_idx` ON `tasks` (`account_id`,`completed_by_agent_id`,`created_at`,`id`);
