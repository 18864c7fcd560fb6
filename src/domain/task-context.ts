/**
 * Task context: a JSON object merged with RFC 7396 semantics (a null value removes the key),
 * versioned, with an append-only ledger of who wrote each key from which source.
 *
 * The merge happens in SQL (`json_patch` inside one UPDATE ... RETURNING), never as
 * read-modify-write in the Worker, so two unguarded concurrent merges of different keys both
 * survive. The ledger rows are written in the same batch, guarded by the same condition as the
 * update, so a refused merge leaves no history.
 */
import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { taskContextHistory, tasks } from '../db/schema';
import { ApiError, conflict } from '../lib/errors';
import { newId } from '../lib/ids';
import { isoSeconds } from '../lib/time';
import type { Principal } from './access';
import { assertCanRead, assertCanWrite, taskNotFound, writableBy } from './task-access';
import { sqlBatch } from './sql-batch';
import { taskCompleted, taskFromRaw } from './tasks';

export const CONTEXT_SOURCES = ['human_stated', 'agent_inferred', 'agent_observed', 'imported'] as const;
export type ContextSource = (typeof CONTEXT_SOURCES)[number];

export interface Provenance {
  agent_id: string | null;
  source: ContextSource;
  version: number;
  updated_at: string;
}

export interface ContextJson {
  context: Record<string, unknown>;
  version: number;
  provenance?: Record<string, Provenance>;
}

const parseObject = (text: string | null | undefined): Record<string, unknown> => {
  try {
    const v = JSON.parse(text ?? '{}') as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
};

const tooLarge = (max: number) => new ApiError(413, 'CONTEXT_TOO_LARGE', `Task context is capped at ${max} bytes of JSON; remove keys (set them to null) or store less`);

const byteLength = (s: string) => new TextEncoder().encode(s).byteLength;

export async function getContext(db: Db, p: Principal, id: string, withProvenance: boolean): Promise<ContextJson> {
  const [rows, raw] = await sqlBatch(db, [
    db.select().from(tasks).where(and(eq(tasks.id, id), eq(tasks.accountId, p.accountId))),
    // The newest ledger row per key (SQLite returns the row holding max(version) for bare columns).
    sql`select key, agent_id, source, created_at, max(version) as version from ${taskContextHistory} where task_id = ${withProvenance ? id : ''} and account_id = ${p.accountId} group by key`,
  ]);
  const row = rows![0] ? taskFromRaw(rows![0]) : undefined;
  const ledger = raw as { key: string; agent_id: string | null; source: ContextSource; created_at: string; version: number }[];
  assertCanRead(p, row);
  const context = parseObject(row.context);
  const out: ContextJson = { context, version: row.contextVersion };
  if (withProvenance) {
    out.provenance = Object.fromEntries(
      ledger.filter((l) => l.key in context).map((l) => [l.key, { agent_id: l.agent_id, source: l.source, version: l.version, updated_at: l.created_at }]),
    );
  }
  return out;
}

export interface PatchOptions {
  expectedVersion?: number;
  source: ContextSource;
  maxBytes: number;
}

const versionConflict = (version: number, context: Record<string, unknown>) =>
  conflict('CONTEXT_VERSION_CONFLICT', `Context is at version ${version}, not the expected one; merge onto the current context and retry with expected_version=${version}`, { version, context });

export async function patchContext(db: Db, p: Principal, id: string, patch: Record<string, unknown>, opts: PatchOptions, now: number): Promise<ContextJson> {
  const patchText = JSON.stringify(patch);
  if (byteLength(patchText) > opts.maxBytes) throw tooLarge(opts.maxBytes);
  if (Object.keys(patch).length === 0) {
    const row = await db.select().from(tasks).where(and(eq(tasks.id, id), eq(tasks.accountId, p.accountId))).get();
    assertCanWrite(p, 'tasks.context.write', row, now);
    if (row.completed) throw taskCompleted();
    if (opts.expectedVersion !== undefined && opts.expectedVersion !== row.contextVersion) throw versionConflict(row.contextVersion, parseObject(row.context));
    return { context: parseObject(row.context), version: row.contextVersion };
  }

  const ts = isoSeconds(now);
  const expected = opts.expectedVersion ?? null;
  // One guard for the ledger and the update (access, not completed, version, size); both run on
  // the same state inside one batch, so a refused merge writes nothing at all.
  const guard = (t: string) =>
    sql`${sql.raw(t)}.id = ${id} and ${writableBy(p, 'tasks.context.write', now, t)} and ${sql.raw(t)}.completed = 0
      and (${expected} is null or ${sql.raw(t)}.context_version = ${expected})
      and length(cast(json_patch(${sql.raw(t)}.context, ${patchText}) as blob)) <= ${opts.maxBytes}`;
  const idBase = newId('msg', now).slice(4);
  const [, updated, current] = await sqlBatch(db, [
    sql`insert into ${taskContextHistory} (id, task_id, account_id, key, value, version, source, agent_id, created_at)
      select ${`ctx_${idBase}_`} || j.id, t.id, t.account_id, j.key,
        case j.type when 'null' then null when 'true' then 'true' when 'false' then 'false' when 'object' then j.value when 'array' then j.value else json_quote(j.value) end,
        t.context_version + 1, ${opts.source}, ${p.agentId}, ${ts}
      from ${tasks} t, json_each(${patchText}) j where ${guard('t')}`,
    sql`update ${tasks} set context = json_patch(context, ${patchText}), context_version = context_version + 1, updated_at = ${ts}
        where ${guard('tasks')} returning context, context_version`,
    // Read only when the merge was refused, to say why.
    sql`select * from ${tasks} where ${tasks.id} = ${id} and ${tasks.accountId} = ${p.accountId} and changes() = 0`,
  ]);
  const done = updated![0] as { context: string; context_version: number } | undefined;
  if (done) return { context: parseObject(done.context), version: done.context_version };
  const state = current![0] ? taskFromRaw(current![0]) : undefined;
  assertCanWrite(p, 'tasks.context.write', state, now);
  if (state.completed) throw taskCompleted();
  if (expected !== null && state.contextVersion !== expected) throw versionConflict(state.contextVersion, parseObject(state.context));
  throw tooLarge(opts.maxBytes);
}

export interface HistoryEntry {
  id: string;
  key: string;
  value: unknown;
  version: number;
  source: ContextSource;
  agent_id: string | null;
  created_at: string;
}

export async function contextHistory(db: Db, p: Principal, id: string, key: string | undefined, page: { limit: number; offset: number }): Promise<HistoryEntry[]> {
  const [rows, ledger] = await db.batch([
    db.select().from(tasks).where(and(eq(tasks.id, id), eq(tasks.accountId, p.accountId))),
    db
      .select()
      .from(taskContextHistory)
      .where(and(eq(taskContextHistory.taskId, id), eq(taskContextHistory.accountId, p.accountId), key === undefined ? undefined : eq(taskContextHistory.key, key)))
      .orderBy(asc(taskContextHistory.version), asc(taskContextHistory.key))
      .limit(page.limit)
      .offset(page.offset),
  ]);
  assertCanRead(p, rows[0]);
  return ledger.map((h) => ({
    id: h.id,
    key: h.key,
    value: h.value === null ? null : (JSON.parse(h.value) as unknown),
    version: h.version,
    source: h.source,
    agent_id: h.agentId,
    created_at: h.createdAt,
  }));
}
