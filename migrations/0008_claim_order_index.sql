-- The claim order is priority DESC, then created_at ASC, id ASC. tasks_queue_idx held priority
-- ascending with created_at ascending, which no scan direction matches, so every claim read all
-- open tasks of the account and sorted them. Rebuilt with the claim's own order, a claim walks
-- from the best open task and stops at the first that matches.
-- Hand-written (drizzle-kit would not order the columns): src/db/schema.ts declares the same.
DROP INDEX IF EXISTS `tasks_queue_idx`;
CREATE INDEX `tasks_queue_idx` ON `tasks` (`account_id`, `status`, `priority` DESC, `created_at`, `id`);
