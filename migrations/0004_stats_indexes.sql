-- GET /v1/stats counts today's completions with a range read on (account_id, completed_at), so
-- its cost follows the number of tasks completed since midnight, not the size of the account.
-- Hand-written, like 0001-0003; src/db/schema.ts declares the same index so drizzle and the
-- database agree. IF NOT EXISTS keeps it safe however the index came to exist first.

CREATE INDEX IF NOT EXISTS `tasks_account_completed_at_idx` ON `tasks` (`account_id`,`completed_at`);
