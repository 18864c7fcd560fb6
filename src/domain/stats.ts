/**
 * `GET /v1/stats`: totals over the tasks the caller can see, in one aggregate query.
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { tasks } from '../db/schema';
import { isoDate } from '../lib/time';
import type { Principal } from './access';
import { visibleTasks } from './task-access';

export interface StatsJson {
  total: number;
  completed: number;
  open: number;
  completed_today: number;
  due_today: number;
  overdue: number;
  by_project: Record<string, { total: number; completed: number }>;
}

/** Tasks without a project are grouped under this key in `by_project`. */
export const NO_PROJECT = 'none';

export async function taskStats(db: Db, p: Principal, now: number): Promise<StatsJson> {
  const today = isoDate(now);
  const tomorrow = isoDate(now + 86_400_000);
  const rows = await db
    .select({
      projectId: tasks.projectId,
      total: sql<number>`count(*)`,
      completed: sql<number>`coalesce(sum(${tasks.completed}), 0)`,
      completedToday: sql<number>`coalesce(sum(${tasks.completed} = 1 and ${tasks.completedAt} >= ${today}), 0)`,
      dueToday: sql<number>`coalesce(sum(${tasks.completed} = 0 and ${tasks.dueDate} >= ${today} and ${tasks.dueDate} < ${tomorrow}), 0)`,
      overdue: sql<number>`coalesce(sum(${tasks.completed} = 0 and ${tasks.dueDate} < ${today}), 0)`,
    })
    .from(tasks)
    .where(visibleTasks(p))
    .groupBy(tasks.projectId);
  const out: StatsJson = { total: 0, completed: 0, open: 0, completed_today: 0, due_today: 0, overdue: 0, by_project: {} };
  for (const r of rows) {
    out.total += r.total;
    out.completed += r.completed;
    out.completed_today += r.completedToday;
    out.due_today += r.dueToday;
    out.overdue += r.overdue;
    out.by_project[r.projectId ?? NO_PROJECT] = { total: r.total, completed: r.completed };
  }
  out.open = out.total - out.completed;
  return out;
}
