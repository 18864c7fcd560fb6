/**
 * Projects of an account. Restricted keys see only their sandbox project; writes are admin-only
 * (enforced by the authorisation table). A project with tasks is not deleted (409), so no task
 * is silently orphaned.
 */
import { z } from '@hono/zod-openapi';
import { and, asc, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { projects, tasks } from '../db/schema';
import { conflict, notFound } from '../platform/errors';
import { newId } from '../platform/ids';
import { isoSeconds } from '../platform/time';
import type { Principal } from '../access/policy';
import { insertUnderLimit, limitReached } from '../db/plan-limits';
import { sqlBatch } from '../db/sql-batch';
import { answerColumns, type ColumnsJson } from '../http/answer-columns';
import { writtenLimit } from '../db/written-limit';

export type ProjectRow = typeof projects.$inferSelect;

/** A project as the API shows it: every column (see answer-columns.ts). */
const projectColumns = answerColumns(projects, { hide: [], describe: { id: { example: 'prj_0Nf3aB1c2D3e4F5g6H7i8J9' } } });

export const ProjectSchema = z.object(projectColumns.shape).openapi('Project');
export type ProjectJson = ColumnsJson<typeof projects, never>;
export const projectJson = (row: ProjectRow): ProjectJson => projectColumns.json(row);

const projectNotFound = () => notFound('project');

/** The condition that limits a caller to the projects it may see. */
function visibleTo(p: Principal) {
  const inAccount = eq(projects.accountId, p.accountId);
  if (p.mode !== 'restricted') return inAccount;
  return and(inAccount, eq(projects.id, p.sandboxProjectId ?? '∅'));
}

export async function listProjects(db: Db, p: Principal): Promise<ProjectJson[]> {
  const rows = await db.select().from(projects).where(visibleTo(p)).orderBy(asc(projects.sortOrder), asc(projects.id));
  return rows.map(projectJson);
}

export async function getProject(db: Db, p: Principal, id: string): Promise<ProjectJson> {
  const row = await db
    .select()
    .from(projects)
    .where(and(visibleTo(p), eq(projects.id, id)))
    .get();
  if (!row) throw projectNotFound();
  return projectJson(row);
}

export interface ProjectInput {
  name?: string;
  emoji?: string | null;
  color?: string | null;
  sort_order?: number;
}

export interface CreateProjectOptions {
  input: ProjectInput & { name: string };
  /** The plan's limit. */
  maxProjects: number;
  now: number;
}

export async function createProject(db: Db, p: Principal, { input, maxProjects, now }: CreateProjectOptions): Promise<ProjectJson> {
  const ts = isoSeconds(now);
  const row: ProjectRow = {
    id: newId('prj', now),
    accountId: p.accountId,
    name: input.name,
    emoji: input.emoji ?? null,
    color: input.color ?? null,
    sortOrder: input.sort_order ?? 0,
    isSandbox: false,
    createdAt: ts,
    updatedAt: ts,
  };
  const [inserted] = await sqlBatch(db, [insertUnderLimit(projects, { row, accountId: p.accountId, max: maxProjects })]);
  if (!inserted![0]) throw limitReached('projects', maxProjects);
  return projectJson(row);
}

export interface UpdateProjectOptions {
  projectId: string;
  input: ProjectInput;
  now: number;
}

export async function updateProject(db: Db, p: Principal, { projectId, input, now }: UpdateProjectOptions): Promise<ProjectJson> {
  const changes: Partial<ProjectRow> = { updatedAt: isoSeconds(now) };
  if (input.name !== undefined) changes.name = input.name;
  if (input.emoji !== undefined) changes.emoji = input.emoji;
  if (input.color !== undefined) changes.color = input.color;
  if (input.sort_order !== undefined) changes.sortOrder = input.sort_order;
  const row = await db
    .update(projects)
    .set(changes)
    .where(and(visibleTo(p), eq(projects.id, projectId)))
    .returning()
    .get();
  if (!row) throw projectNotFound();
  return projectJson(row);
}

export async function deleteProject(db: Db, p: Principal, id: string): Promise<void> {
  const [target, used] = await db.batch([
    db
      .select()
      .from(projects)
      .where(and(visibleTo(p), eq(projects.id, id))),
    db
      .select({ id: tasks.id })
      .from(tasks)
      .where(and(eq(tasks.accountId, p.accountId), eq(tasks.projectId, id)))
      .limit(writtenLimit(1)),
  ]);
  if (!target[0]) throw projectNotFound();
  if (used.length > 0) throw conflict('PROJECT_NOT_EMPTY', 'This project still has tasks; move or delete them first');
  await db.delete(projects).where(and(eq(projects.accountId, p.accountId), eq(projects.id, id)));
}
