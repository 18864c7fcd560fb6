/**
 * The Cron Trigger (wrangler.toml `[triggers] crons`, every minute): each job runs once per tick,
 * in order; a job that fails is logged and does not keep the others from running. Locally
 * `npm start` calls wrangler dev's scheduled endpoint once a minute.
 */
import type { Env } from './env';
import { spawnDueRecurrences } from './recurrences/spawn';
import { cleanupJob } from './retention/cleanup';
import { requeueJob } from './webhooks/requeue';
import { relaySweepJob } from './events/relay';
import { currentTaskJson } from './tasks/use-cases';
import { principalForgetSweepJob } from './access/forget-sweep';

export interface ScheduledJob {
  name: string;
  run(env: Env, now: number): Promise<unknown>;
}

export const jobs: ScheduledJob[] = [
  { name: 'recurrences', run: spawnDueRecurrences },
  cleanupJob,
  requeueJob,
  relaySweepJob(currentTaskJson),
  principalForgetSweepJob,
];

export async function scheduled(controller: ScheduledController, env: Env, _ctx?: ExecutionContext): Promise<void> {
  const now = controller.scheduledTime;
  for (const job of jobs) {
    try {
      const result = await job.run(env, now);
      if (result !== undefined) console.log(JSON.stringify({ level: 'info', message: 'scheduled job done', job: job.name, result }));
    } catch (error) {
      console.error(JSON.stringify({ level: 'error', message: 'scheduled job failed', job: job.name, error: String(error) }));
    }
  }
}
