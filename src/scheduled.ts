/**
 * The Cron Trigger (wrangler.toml `[triggers] crons`, every minute): each job runs once per
 * tick, in order; a job that fails is logged and does not keep the others from running.
 */
import type { Env } from './env';
import { cleanupJob } from './retention/cleanup';
import { requeueJob } from './webhooks/requeue';

export interface ScheduledJob {
  name: string;
  run(env: Env, now: number): Promise<void>;
}

export const jobs: ScheduledJob[] = [
  cleanupJob,
  requeueJob,
];

export async function scheduled(controller: ScheduledController, env: Env): Promise<void> {
  const now = controller.scheduledTime;
  for (const job of jobs) {
    try {
      await job.run(env, now);
    } catch (error) {
      console.error(JSON.stringify({ level: 'error', message: 'scheduled job failed', job: job.name, error: String(error) }));
    }
  }
}
