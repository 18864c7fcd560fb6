/**
 * Task context: a JSON object merged with RFC 7396 semantics (a null value removes the key),
 * versioned, with an append-only ledger of who wrote each key from which source.
 *
 * The merge happens in SQL (`json_patch` inside one UPDATE ... RETURNING), never as
 * read-modify-write in the Worker, so two unguarded concurrent merges of different keys both
 * survive. The ledger rows are written in the same batch, guarded by the same condition as the
 * update, so a refused merge leaves no history.
 */
import { and, asc, desc, eq, gt, lt, or, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { agents, taskContextHistory, tasks } from '../db/schema';
import { ApiError, conflict } from '../platform/errors';
import { newId } from '../platform/ids';
import { isoSeconds } from '../platform/time';
import type { Principal } from '../access/policy';
import { assertCanRead, assertCanWrite, writableBy } from './task-access';
import { sqlBatch } from '../db/sql-batch';
import { taskCompleted, taskFromRaw } from './tasks';
import { writtenLimit } from '../db/written-limit';

export const CONTEXT_SOURCES = ['human_stated', 'agent_inferred', 'agent_observed', 'imported'] as const;
export type ContextSource = (typeof CONTEXT_SOURCES)[number];

/** Who last wrote a key, from which source, at which context version. */
export interface Provenance {
  author_agent_id: string | null;
  /** The author's display name (or name); null once the agent is deleted. */
  author_name: string | null;
  source: ContextSource;
  version: number;
  created_at: string;
}

export interface ContextJson {
  context: Record<string, unknown>;
  version: number;
  provenance?: Record<string, Provenance>;
}

/** A stored context as an object ({} when it is not one). */
export const parseContext = (text: string | null | undefined): Record<string, unknown> => {
  try {
    const v = JSON.parse(text ?? '{}') as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
};

const tooLarge = (max: number) =>
  new ApiError({
    status: 413,
    code: 'CONTEXT_TOO_LARGE',
    message: `Task context is capped at ${max} bytes of JSON; remove keys (set them to null) or store less`,
  });

const byteLength = (s: string) => new TextEncoder().encode(s).byteLength;

export interface GetContextOptions {
  taskId: string;
  withProvenance: boolean;
}

export async function getContext(db: Db, p: Principal, { taskId, withProvenance }: GetContextOptions): Promise<ContextJson> {
  const [rows, raw] = await sqlBatch(db, [
    db
      .select()
      .from(tasks)
      .where(and(eq(tasks.id, taskId), eq(tasks.accountId, p.accountId))),
    // The newest ledger row per key (SQLite returns the row holding max(version) for bare columns).
    sql`select h.key, h.agent_id, coalesce(a.display_name, a.name) as author_name, h.source, h.created_at, max(h.version) as version
      from ${taskContextHistory} h left join ${agents} a on a.id = h.agent_id and a.account_id = h.account_id
      where h.task_id = ${withProvenance ? taskId : ''} and h.account_id = ${p.accountId} group by h.key`,
  ]);
  const row = rows![0] ? taskFromRaw(rows![0]) : undefined;
  const ledger = raw as {
    key: string;
    agent_id: string | null;
    author_name: string | null;
    source: ContextSource;
    created_at: string;
    version: number;
  }[];
  assertCanRead(p, row);
  const context = parseContext(row.context);
  const out: ContextJson = { context, version: row.contextVersion };
  if (withProvenance) {
    out.provenance = Object.fromEntries(
      ledger
        .filter((l) => l.key in context)
        .map((l) => [
          l.key,
          { author_agent_id: l.agent_id, author_name: l.author_name, source: l.source, version: l.version, created_at: l.created_at },
        ]),
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
  conflict(
    'CONTEXT_VERSION_CONFLICT',
    `Context is at version ${version}, not the expected one; merge onto the current context and retry with expected_version=${version}`,
    { version, context },
  );

export interface PatchContextOptions extends PatchOptions {
  taskId: string;
  /** Keys to set; a null value removes its key. */
  patch: Record<string, unknown>;
  now: number;
}

export async function patchContext(db: Db, p: Principal, opts: PatchContextOptions): Promise<ContextJson> {
  const { taskId: id, patch, now } = opts;
  const patchText = JSON.stringify(patch);
  if (byteLength(patchText) > opts.maxBytes) throw tooLarge(opts.maxBytes);
  if (Object.keys(patch).length === 0) {
    const row = await db
      .select()
      .from(tasks)
      .where(and(eq(tasks.id, id), eq(tasks.accountId, p.accountId)))
      .get();
    assertCanWrite(p, row, { op: 'tasks.context.write', now });
    if (row.completed) throw taskCompleted();
    if (opts.expectedVersion !== undefined && opts.expectedVersion !== row.contextVersion)
      throw versionConflict(row.contextVersion, parseContext(row.context));
    return { context: parseContext(row.context), version: row.contextVersion };
  }

  const ts = isoSeconds(now);
  const expected = opts.expectedVersion ?? null;
  // One guard for the ledger and the update (access, not completed, version, size); both run on
  // the same state inside one batch, so a refused merge writes nothing at all.
  const guard = (t: string) =>
    sql`${sql.raw(t)}.id = ${id} and ${writableBy(p, { op: 'tasks.context.write', now, taskAlias: t })} and ${sql.raw(t)}.completed = 0
      and (${expected} is null or ${sql.raw(t)}.context_version = ${expected})
      and length(cast(json_patch(${sql.raw(t)}.context, ${patchText}) as blob)) <= ${opts.maxBytes}`;
  // One id per merge; each ledger row of it adds the key's position in the patch.
  const idBase = newId('ctx', now);
  const [, updated, current] = await sqlBatch(db, [
    sql`insert into ${taskContextHistory} (id, task_id, account_id, key, value, version, source, agent_id, created_at)
      select ${`${idBase}_`} || j.id, t.id, t.account_id, j.key,
        case j.type when 'null' then null when 'true' then 'true' when 'false' then 'false' when 'object' then j.value when 'array' then j.value else json_quote(j.value) end,
        t.context_version + 1, ${opts.source}, ${p.agentId}, ${ts}
      from ${tasks} t, json_each(${patchText}) j where ${guard('t')}`,
    sql`update ${tasks} set context = json_patch(context, ${patchText}), context_version = context_version + 1, updated_at = ${ts}
        where ${guard('tasks')} returning context, context_version`,
    // Read only when the merge was refused, to say why.
    sql`select * from ${tasks} where ${tasks.id} = ${id} and ${tasks.accountId} = ${p.accountId} and changes() = 0`,
  ]);
  const done = updated![0] as { context: string; context_version: number } | undefined;
  if (done) return { context: parseContext(done.context), version: done.context_version };
  const state = current![0] ? taskFromRaw(current![0]) : undefined;
  assertCanWrite(p, state, { op: 'tasks.context.write', now });
  if (state.completed) throw taskCompleted();
  if (expected !== null && state.contextVersion !== expected) throw versionConflict(state.contextVersion, parseContext(state.context));
  throw tooLarge(opts.maxBytes);
}

export interface HistoryEntry {
  id: string;
  key: string;
  value: unknown;
  version: number;
  source: ContextSource;
  author_agent_id: string | null;
  author_name: string | null;
  created_at: string;
  /** When a later write (or removal) of the same key replaced this value; null while it is live. */
  superseded_at: string | null;
}

export interface HistoryPage {
  entries: HistoryEntry[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  next_cursor: string | null;
}

/** A history position: the version and key of the last entry shown. */
export function parseHistoryCursor(cursor: string): { version: number; key: string } | null {
  const m = /^(\d{1,10}):(.*)$/s.exec(cursor);
  return m ? { version: Number(m[1]), key: m[2]! } : null;
}

export interface ContextHistoryOptions {
  taskId: string;
  /** Only this key's changes, when given. */
  key: string | undefined;
  page: { limit: number; cursor?: { version: number; key: string } };
}

/** The ledger, newest first (by version, then key); `key` narrows it to one key. */
export async function contextHistory(db: Db, p: Principal, { taskId, key, page }: ContextHistoryOptions): Promise<HistoryPage> {
  const h = taskContextHistory;
  const after = page.cursor
    ? or(lt(h.version, page.cursor.version), and(eq(h.version, page.cursor.version), gt(h.key, page.cursor.key)))
    : undefined;
  const [rows, ledger] = await db.batch([
    db
      .select()
      .from(tasks)
      .where(and(eq(tasks.id, taskId), eq(tasks.accountId, p.accountId))),
    db
      .select({
        id: h.id,
        key: h.key,
        value: h.value,
        version: h.version,
        source: h.source,
        agentId: h.agentId,
        authorName: sql<string | null>`coalesce(${agents.displayName}, ${agents.name})`,
        createdAt: h.createdAt,
        supersededAt: sql<
          string | null
        >`(select min(n.created_at) from task_context_history n where n.task_id = ${h.taskId} and n.key = ${h.key} and n.version > ${h.version})`,
      })
      .from(h)
      .leftJoin(agents, and(eq(agents.id, h.agentId), eq(agents.accountId, h.accountId)))
      .where(and(eq(h.taskId, taskId), eq(h.accountId, p.accountId), key === undefined ? undefined : eq(h.key, key), after))
      .orderBy(desc(h.version), asc(h.key))
      .limit(writtenLimit(page.limit + 1)),
  ]);
  assertCanRead(p, rows[0]);
  const shown = ledger.slice(0, page.limit);
  const last = shown[shown.length - 1];
  return {
    entries: shown.map((e) => ({
      id: e.id,
      key: e.key,
      value: e.value === null ? null : (JSON.parse(e.value) as unknown),
      version: e.version,
      source: e.source,
      author_agent_id: e.agentId,
      author_name: e.authorName,
      created_at: e.createdAt,
      superseded_at: e.supersededAt,
    })),
    next_cursor: ledger.length > page.limit && last ? `${last.version}:${last.key}` : null,
  };
}
