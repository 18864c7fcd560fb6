/**
 * The Cron Trigger (`* * * * *`): runs each job once a minute. A job failing is logged and does
 * not stop the others. Locally `npm start` calls wrangler dev's scheduled endpoint once a minute.
 */
import type { Env } from './env';
import { spawnDueRecurrences } from './recurrences/spawn';

export interface ScheduledJob {
  name: string;
  run(env: Env, now: number): Promise<unknown>;
}

export const JOBS: ScheduledJob[] = [
  { name: 'recurrences', run: spawnDueRecurrences },
];

export async function scheduled(_controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
  const now = Date.now();
  for (const job of JOBS) {
    try {
      const result = await job.run(env, now);
      console.log(JSON.stringify({ level: 'info', message: 'scheduled job done', job: job.name, result }));
    } catch (e) {
      console.error(JSON.stringify({ level: 'error', message: 'scheduled job failed', job: job.name, error: String(e) }));
    }
  }
}
