/**
 * One delivery to `POST /v1/ingress/{sourceId}`: signature, rate limit, filters, template, then
 * one batch that creates the task only if the delivery's dedupe key is new (and the quota and
 * the pinned project and assignee allow it), records the key, logs the delivery and counts it.
 * Routing is the source's: the payload only fills text, priority and labels from the template.
 * The log keeps the outcome, the body's SHA-256 and size; never the payload.
 */
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { accounts, agents, ingressDedupeKeys, ingressDeliveries, ingressSources, projects, tasks, usageCounters } from '../db/schema';
import type { Principal } from '../access/policy';
import { sqlBatch } from '../db/sql-batch';
import { taskJson } from '../tasks/task-json';
import {
  countCreated,
  insertTaskGuarded,
  newTaskRow,
  normaliseLabels,
  period,
  newTaskEvents,
  quotaExceeded,
  recordIf,
} from '../tasks/tasks';
import type { Env } from '../env';
import { limit } from '../platform/config';
import { sha256Hex, toHex } from '../platform/crypto';
import { ApiError, notFound, type ErrorCode, type ErrorDetail, type ErrorStatus } from '../platform/errors';
import { newId } from '../platform/ids';
import { isoSeconds } from '../platform/time';
import { rateLimitHeaders, type RateCounter } from '../access/rate-limiter';
import { afterCommit, type WaitUntil } from '../events/after-commit';
import { wakes } from '../events/effects';
import { recorded } from '../events/outbox';
import { INGRESS_LABEL, parseList } from '../automations/rules';
import { verifyIngressSignature, type SignatureVerdict } from './signature';
import { MissingPaths, passesFilters, renderTask, type IngressFilter, type IngressTemplate } from './template';
import type { IngressSourceRow } from './sources';
import { writtenLimit } from '../db/written-limit';

export interface IngressDelivery {
  sourceId: string;
  signature: string | null;
  body: Uint8Array;
}

export interface IngressDeps {
  db: Db;
  env: Env;
  ctx: WaitUntil;
  rate: RateCounter;
  now: number;
}

export interface IngressAnswer {
  status: 200 | 201 | 202;
  body: { outcome: 'created' | 'duplicate' | 'filtered'; delivery_id: string; task_id: string | null };
  headers: Record<string, string>;
}

const SIGNATURE_ERRORS: Record<Exclude<SignatureVerdict, 'valid'>, [code: ErrorCode, message: string]> = {
  missing: [
    'INGRESS_SIGNATURE_MISSING',
    'Sign the body: X-Delega-Ingress-Signature: t=<unix seconds>,v1=<hex HMAC-SHA-256 of "<t>.<raw body>"> under the source’s secret',
  ],
  malformed: ['INGRESS_SIGNATURE_MALFORMED', 'X-Delega-Ingress-Signature must be t=<unix seconds>,v1=<64 hex characters>'],
  stale: [
    'INGRESS_SIGNATURE_STALE',
    'The signature’s timestamp is more than 5 minutes from the server’s clock: sign each delivery when it is sent',
  ],
  mismatch: ['INGRESS_SIGNATURE_INVALID', 'The signature does not match the body under this source’s secret'],
};

type SourceWithFlags = IngressSourceRow & { activeWebhooks: number; activeAutomations: number };

export interface Refusal {
  status: ErrorStatus;
  code: ErrorCode;
  message: string;
  details?: ErrorDetail[];
}

/** Handles a delivery; throws ApiError (with the rate headers) for everything refused. */
export async function receiveDelivery(deps: IngressDeps, delivery: IngressDelivery): Promise<IngressAnswer> {
  const { db, now } = deps;
  const signatureHash = delivery.signature ? await sha256Hex(delivery.signature) : null;
  const [found, replays] = await db.batch([
    db
      .select({ source: ingressSources, activeWebhooks: accounts.activeWebhooks, activeAutomations: accounts.activeAutomations })
      .from(ingressSources)
      .innerJoin(accounts, eq(accounts.id, ingressSources.accountId))
      .where(eq(ingressSources.id, delivery.sourceId)),
    db
      .select({ id: ingressDeliveries.id })
      .from(ingressDeliveries)
      .where(and(eq(ingressDeliveries.sourceId, delivery.sourceId), eq(ingressDeliveries.signatureSha256, signatureHash ?? '')))
      .limit(writtenLimit(1)),
  ]);
  const hit = found[0];
  if (!hit) throw notFound('ingress source', 'INGRESS_SOURCE_NOT_FOUND');
  const source: SourceWithFlags = { ...hit.source, activeWebhooks: hit.activeWebhooks, activeAutomations: hit.activeAutomations };

  const bodySha256 = toHex(await crypto.subtle.digest('SHA-256', delivery.body));
  const verdict = await verifyIngressSignature({ secret: source.secret, header: delivery.signature, body: delivery.body, nowMs: now });
  // Only a verified, new delivery counts against the source's minute; unsigned, badly signed and
  // replayed ones share a smaller minute of their own (past it nothing is logged), so knowing a
  // source id is not enough to use up its genuine sender's minute.
  const genuine = verdict === 'valid' && replays.length === 0;
  const rate = genuine
    ? await deps.rate({ subject: `ingress:${source.id}`, limit: limit(deps.env, 'INGRESS_RATE_PER_MINUTE'), nowMs: now, windowSeconds: 60 })
    : await deps.rate({
        subject: `ingress-unverified:${source.id}`,
        limit: limit(deps.env, 'INGRESS_UNVERIFIED_PER_MINUTE'),
        nowMs: now,
        windowSeconds: 60,
      });
  const headers = rateLimitHeaders(rate);
  if (!rate.allowed) {
    const retryAfter = String(Math.max(1, rate.resetAt - Math.floor(now / 1000)));
    const message = genuine
      ? `This source accepts ${rate.limit} deliveries per minute; retry after ${retryAfter} s`
      : `This source answers at most ${rate.limit} unsigned, badly signed or replayed deliveries per minute; retry after ${retryAfter} s`;
    throw new ApiError({ status: 429, code: 'RATE_LIMITED', message, headers: { ...headers, 'Retry-After': retryAfter } });
  }

  const log = { db, source, bodySha256, bodyBytes: delivery.body.byteLength, signatureHash, now };
  const refuse = async ({ status, code, message, details }: Refusal): Promise<never> => {
    await logRefusal(log, code.toLowerCase(), status);
    throw new ApiError({ status, code, message, details, headers });
  };

  if (verdict !== 'valid') {
    const [code, message] = SIGNATURE_ERRORS[verdict];
    await refuse({ status: 401, code, message });
  }
  if (replays.length > 0)
    await refuse({
      status: 409,
      code: 'INGRESS_REPLAYED',
      message: 'This exact signed delivery was already received; sign each retry anew (its dedupe key keeps it from making a second task)',
    });
  if (!source.active)
    await refuse({
      status: 409,
      code: 'INGRESS_SOURCE_PAUSED',
      message: 'This ingress source is paused; an admin can resume it with "active": true',
    });

  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(delivery.body));
  } catch {
    payload = undefined;
  }
  if (payload === null || typeof payload !== 'object')
    await refuse({ status: 400, code: 'INGRESS_BODY_NOT_JSON', message: 'The body must be a JSON object or array' });

  if (!passesFilters(parseList<IngressFilter>(source.filters), payload)) {
    const id = await logRefusal(log, 'filtered', 202);
    return { status: 202, body: { outcome: 'filtered', delivery_id: id, task_id: null }, headers };
  }

  let rendered: ReturnType<typeof renderTask>;
  try {
    rendered = renderTask(JSON.parse(source.template) as IngressTemplate, payload);
  } catch (e) {
    if (!(e instanceof MissingPaths)) throw e;
    return refuse({
      status: 422,
      code: 'INGRESS_TEMPLATE_PATH_MISSING',
      message: e.message,
      details: e.paths.map((p) => ({ field: `template.${p.field}`, message: `No string, number or boolean at ${p.path}` })),
    });
  }
  if (rendered.content === '')
    await refuse({ status: 422, code: 'INGRESS_EMPTY_CONTENT', message: 'The template rendered an empty task content' });

  return createFromDelivery(deps, { ...log, headers, rendered, dedupeKey: rendered.dedupeKey ?? bodySha256 });
}

interface LogInput {
  db: Db;
  source: SourceWithFlags;
  bodySha256: string;
  bodyBytes: number;
  signatureHash: string | null;
  now: number;
}

const countDelivery = (source: IngressSourceRow, now: number) =>
  sql`update ${ingressSources} set delivery_count = delivery_count + 1, last_delivery_at = ${isoSeconds(now)} where ${ingressSources.id} = ${source.id}`;

/** Logs a delivery that made no task, and counts it. */
async function logRefusal(log: LogInput, outcome: string, status: number): Promise<string> {
  const id = newId('idv', log.now);
  await sqlBatch(log.db, [
    sql`insert into ${ingressDeliveries} (id, source_id, account_id, outcome, status_code, body_sha256, body_bytes, signature_sha256, task_id, created_at)
      values (${id}, ${log.source.id}, ${log.source.accountId}, ${outcome}, ${status}, ${log.bodySha256}, ${log.bodyBytes}, ${log.signatureHash}, null, ${isoSeconds(log.now)})`,
    countDelivery(log.source, log.now),
  ]);
  return id;
}

/** Where a new task's writes are written in the source creator's name. */
function sourcePrincipal(source: SourceWithFlags): Principal {
  return {
    agentId: source.createdByAgentId,
    agentName: `ingress:${source.name}`,
    accountId: source.accountId,
    role: 'admin',
    mode: 'admin',
    plan: 'free',
    sandboxProjectId: null,
    isDefaultAgent: false,
    hasWebhooks: source.activeWebhooks > 0,
    hasAutomations: source.activeAutomations > 0,
  };
}

async function createFromDelivery(
  deps: IngressDeps,
  input: LogInput & { headers: Record<string, string>; rendered: ReturnType<typeof renderTask>; dedupeKey: string },
): Promise<IngressAnswer> {
  const { db, now } = deps;
  const { source, rendered } = input;
  const p = sourcePrincipal(source);
  const row = {
    ...newTaskRow(p, {
      input: {
        content: rendered.content,
        description: rendered.description,
        priority: rendered.priority,
        labels: normaliseLabels([...rendered.labels, INGRESS_LABEL]),
        project_id: source.defaultProjectId,
        assigned_to_agent_id: source.defaultAssigneeAgentId,
      },
      now,
    }),
    sourceIngressId: source.id,
  };
  const keyHash = await sha256Hex(input.dedupeKey);
  const deliveryId = newId('idv', now);
  const ts = isoSeconds(now);
  const dedupe = sql`(select ${ingressDedupeKeys.taskId} from ${ingressDedupeKeys} where ${ingressDedupeKeys.sourceId} = ${source.id} and ${ingressDedupeKeys.keySha256} = ${keyHash})`;
  const created = sql`exists (select 1 from ${tasks} where ${tasks.id} = ${row.id})`;
  const guards = [sql`${dedupe} is null`];
  if (row.projectId)
    guards.push(
      sql`exists (select 1 from ${projects} where ${projects.id} = ${row.projectId} and ${projects.accountId} = ${source.accountId})`,
    );
  if (row.assignedToAgentId) {
    guards.push(
      sql`exists (select 1 from ${agents} where ${agents.id} = ${row.assignedToAgentId} and ${agents.accountId} = ${source.accountId} and ${agents.active} = 1)`,
    );
  }
  const quota = limit(deps.env, 'TASKS_PER_MONTH');
  const listeners = { accountHasWebhooks: p.hasWebhooks, accountHasAutomations: p.hasAutomations };
  const events = newTaskEvents(p, { change: 'ingress.deliver', row, listeners, now });
  const [inserted, , , duplicateOf] = await sqlBatch(db, [
    insertTaskGuarded(row, { quota, now, guards }),
    countCreated(source.accountId, row.id, now),
    sql`insert into ${ingressDedupeKeys} (source_id, key_sha256, task_id, created_at) select ${source.id}, ${keyHash}, ${row.id}, ${ts} where ${created}`,
    sql`select ${dedupe} as task_id`,
    sql`insert into ${ingressDeliveries} (id, source_id, account_id, outcome, status_code, body_sha256, body_bytes, signature_sha256, task_id, created_at)
      values (${deliveryId}, ${source.id}, ${source.accountId},
        case when ${created} then 'created' when ${dedupe} is not null then 'duplicate' else 'refused' end,
        case when ${created} then 201 when ${dedupe} is not null then 200 else 422 end,
        ${input.bodySha256}, ${input.bodyBytes}, ${input.signatureHash}, ${dedupe}, ${ts})`,
    countDelivery(source, now),
    ...recordIf(events, now, created),
  ]);
  if (inserted![0]) {
    const wake = wakes('ingress.deliver', { claimers_waiting: Boolean(inserted![0].claimers_waiting) });
    afterCommit(
      { env: deps.env, ctx: deps.ctx },
      { events: recorded(events, taskJson(row, now)), wakeAccount: wake ? source.accountId : null, now },
    );
    return { status: 201, body: { outcome: 'created', delivery_id: deliveryId, task_id: row.id }, headers: input.headers };
  }
  const duplicate = duplicateOf![0]?.task_id as string | null | undefined;
  if (duplicate)
    return { status: 200, body: { outcome: 'duplicate', delivery_id: deliveryId, task_id: duplicate }, headers: input.headers };
  throw await refusalReason(db, source, { deliveryId, quota, now, headers: input.headers });
}

interface RefusalCheck {
  deliveryId: string;
  /** The account's task quota. */
  quota: number;
  now: number;
  headers: Record<string, string>;
}

/** Why the insert was refused: the quota, or a pinned project or assignee gone since. Corrects the log's status. */
async function refusalReason(db: Db, source: IngressSourceRow, { deliveryId, quota, now, headers }: RefusalCheck): Promise<ApiError> {
  const used = await db
    .select({ n: usageCounters.tasksCreated })
    .from(usageCounters)
    .where(and(eq(usageCounters.accountId, source.accountId), eq(usageCounters.period, period(now))))
    .get();
  const quotaError = quotaExceeded(quota, now);
  const error =
    (used?.n ?? 0) >= quota
      ? new ApiError({ status: 402, code: quotaError.code, message: quotaError.message, extra: quotaError.extra, headers })
      : new ApiError({
          status: 409,
          code: 'INGRESS_PIN_INVALID',
          message: 'This source’s pinned project or assignee no longer exists or is deactivated; an admin must update the source',
          headers,
        });
  await db
    .update(ingressDeliveries)
    .set({ outcome: error.code.toLowerCase(), statusCode: error.status })
    .where(eq(ingressDeliveries.id, deliveryId));
  return error;
}
