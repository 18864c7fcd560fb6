-- accounts.claimers_waiting: set by the account's claim queue (Durable Object) while it holds
-- long-poll claimers. A task create reads it in its own statement and wakes the queue only when
-- someone waits. The object publishes the flag before it re-checks for work, so a task created
-- before the flag was visible is found by that re-check, and one created after it sees the flag.
-- Hand-written to match src/db/schema.ts (accounts.claimersWaiting).
ALTER TABLE `accounts` ADD COLUMN `claimers_waiting` integer DEFAULT false NOT NULL;
