import type { TaskPage } from '../../src/tasks/task-list';

/** The ids of a listing page, in its order. */
export const pageIds = (page: TaskPage): string[] => page.tasks.map((t) => t.id);
