/**
 * The work queue over HTTP: claim the best task (optionally waiting for one), claim a given
 * task, heartbeat, report session state, release. Claims answer `{task}`; heartbeat, state and
 * release answer the task itself (the clients read its lease fields at the top). Claims go through
 * the account's ClaimQueue object; heartbeat, state and release are direct conditional writes.
 */
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { LEASE_SECONDS, WAIT_SECONDS } from './claims';
import { answerLinkBase } from './decision-mail';
import type { AppBindings } from '../env';
import { badRequest } from '../platform/errors';
import { claimQueueOf } from './claim-queue';
import { claimNextChange, claimTaskChange, heartbeatChange, releaseChange, setStateChange, type QueueChange } from './use-cases';
import { authedRoute, createRouter, errorContent, idParams, jsonBody, jsonContent } from '../access/router';
import { shortText } from '../http/schemas';
import { TaskSchema } from '../tasks/task-json';

const TaskAnswer = z.object({ task: TaskSchema }).openapi('ClaimedTask');
const MaybeTaskAnswer = z
  .object({ task: TaskSchema.nullable().openapi({ description: 'null when no matching task was claimable (within wait_seconds)' }) })
  .openapi('ClaimResult');

const SESSION_STATE = z.enum(['working', 'waiting_input', 'errored']);
const leaseSeconds = z
  .number()
  .int()
  .min(LEASE_SECONDS.min)
  .max(LEASE_SECONDS.max)
  .nullish()
  .openapi({
    description: `Lease length in seconds (${LEASE_SECONDS.min}-${LEASE_SECONDS.max}, default ${LEASE_SECONDS.default})`,
    example: 300,
  });
const label = shortText(50).min(1, 'Must not be empty');
const detail = shortText(2000).nullish();

export const ClaimNextBody = z
  .strictObject({
    labels: z
      .union([z.array(label).max(20, 'At most 20 labels'), z.string().max(1100)])
      .nullish()
      .openapi({ description: 'Only tasks that carry every one of these labels (array, or a comma list)', example: ['worker'] }),
    project_id: z.string().max(64).nullish(),
    lease_seconds: leaseSeconds,
    wait_seconds: z
      .number()
      .int()
      .min(WAIT_SECONDS.min)
      .max(WAIT_SECONDS.max)
      .nullish()
      .openapi({
        description: `Hold the request up to this many seconds until a matching task appears (${WAIT_SECONDS.min}-${WAIT_SECONDS.max}, default ${WAIT_SECONDS.default})`,
      }),
  })
  .openapi('ClaimNext');

const ClaimTaskBody = z.strictObject({ lease_seconds: leaseSeconds }).openapi('ClaimTask');
export const HeartbeatBody = z.strictObject({ lease_seconds: leaseSeconds, state: SESSION_STATE.nullish(), detail }).openapi('Heartbeat');
export const StateBody = z.strictObject({ state: SESSION_STATE, detail }).openapi('SessionState');
export const ReleaseBody = z
  .strictObject({ handoff: shortText(10_000).nullish().openapi({ description: 'Notes for whoever claims the task next' }) })
  .openapi('Release');

const params = idParams('tsk');
const noLiveClaim = errorContent('The caller holds no live claim on this task (NO_LIVE_CLAIM)');

const claimNext = authedRoute('queue.claim_next', {
  method: 'post',
  path: '/tasks/claim',
  tags: ['Queue'],
  summary: 'Claim the best claimable task',
  description:
    'Atomically takes the best claimable task (open, not completed, no live lease, unassigned or assigned to the caller; highest priority, then oldest). With `wait_seconds` the request is held until a matching task is created, released or its lease expires. No two callers ever get the same task.',
  request: { body: jsonBody(ClaimNextBody, false) },
  responses: { 200: jsonContent(MaybeTaskAnswer, '`{task}`, or `{task: null}` when nothing matched') },
});

const claimOne = authedRoute('queue.claim', {
  method: 'post',
  path: '/tasks/{id}/claim',
  tags: ['Queue'],
  summary: 'Claim a given task',
  description: 'An expired lease can be taken over; claiming your own live claim extends it.',
  request: { params, body: jsonBody(ClaimTaskBody, false) },
  responses: {
    200: jsonContent(TaskAnswer, 'The claimed task'),
    409: errorContent(
      'Completed (TASK_COMPLETED), assigned to another agent (TASK_ASSIGNED_ELSEWHERE), delegated (TASK_DELEGATED) or held by a live lease (TASK_ALREADY_CLAIMED)',
    ),
  },
});

const heartbeatRoute = authedRoute('queue.heartbeat', {
  method: 'post',
  path: '/tasks/{id}/heartbeat',
  tags: ['Queue'],
  summary: 'Extend the lease of your claim',
  description: 'The lease runs `lease_seconds` from now. `state` and `detail` report the session state at the same time.',
  request: { params, body: jsonBody(HeartbeatBody, false) },
  responses: { 200: jsonContent(TaskSchema, 'The task with its new lease'), 409: noLiveClaim },
});

const stateRoute = authedRoute('queue.state', {
  method: 'post',
  path: '/tasks/{id}/state',
  tags: ['Queue'],
  summary: 'Report the session state of your claim',
  description: 'Does not extend the lease.',
  request: { params, body: jsonBody(StateBody) },
  responses: { 200: jsonContent(TaskSchema, 'The task'), 409: noLiveClaim },
});

const releaseRoute = authedRoute('queue.release', {
  method: 'post',
  path: '/tasks/{id}/release',
  tags: ['Queue'],
  summary: 'Return a claimed task to the queue',
  description: 'The task is claimable again at once. Admins may release any live claim.',
  request: { params, body: jsonBody(ReleaseBody, false) },
  responses: { 200: jsonContent(TaskSchema, 'The released task'), 409: noLiveClaim },
});

export function parseLabels(value: string | string[] | null | undefined): string[] {
  const list = Array.isArray(value) ? value : (value ?? '').split(',');
  return [...new Set(list.map((l) => l.trim()).filter((l) => l !== ''))];
}

/** The request's change: its caller, and where its effects go. */
const change = (c: Context<AppBindings>): QueueChange => ({ fx: { env: c.env, ctx: c.executionCtx }, principal: c.get('principal') });

export const queueRoutes = createRouter()
  .openapi(claimNext, async (c) => {
    const p = c.get('principal');
    const body = c.req.valid('json') ?? {};
    const labels = parseLabels(body.labels);
    if (labels.length > 20 || labels.some((l) => l.length > 50)) {
      throw badRequest('VALIDATION_FAILED', 'Invalid request body: labels: at most 20 labels of at most 50 characters', [
        { field: 'labels', message: 'At most 20 labels of at most 50 characters' },
      ]);
    }
    const queue = claimQueueOf(c.env, p.accountId);
    const waitSeconds = body.wait_seconds ?? WAIT_SECONDS.default;
    // A held claim whose client disconnects is abandoned: it stops waiting, and a task it won
    // goes back to the queue rather than sitting claimed by nobody until its lease ends.
    const holdId = waitSeconds > 0 ? crypto.randomUUID() : undefined;
    if (holdId) {
      c.req.raw.signal.addEventListener(
        'abort',
        () =>
          c.executionCtx.waitUntil(
            queue
              .abandon(p.accountId, holdId)
              .catch((e: unknown) =>
                console.error(JSON.stringify({ level: 'error', message: 'abandoning a held claim failed', error: String(e) })),
              ),
          ),
        { once: true },
      );
    }
    const task = await claimNextChange(change(c), {
      holdId,
      labels,
      projectId: body.project_id ?? null,
      leaseSeconds: body.lease_seconds ?? LEASE_SECONDS.default,
      waitSeconds,
    });
    return c.json({ task }, 200);
  })
  .openapi(claimOne, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json') ?? {};
    return c.json(
      { task: await claimTaskChange(change(c), { taskId: id, leaseSeconds: body.lease_seconds ?? LEASE_SECONDS.default }) },
      200,
    );
  })
  .openapi(heartbeatRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json') ?? {};
    return c.json(await heartbeatChange(change(c), { taskId: id, input: body, linkBase: answerLinkBase(c.env, c.req.url) }), 200);
  })
  .openapi(stateRoute, async (c) => {
    const { id } = c.req.valid('param');
    return c.json(
      await setStateChange(change(c), { taskId: id, input: c.req.valid('json'), linkBase: answerLinkBase(c.env, c.req.url) }),
      200,
    );
  })
  .openapi(releaseRoute, async (c) => {
    const { id } = c.req.valid('param');
    return c.json(await releaseChange(change(c), id, c.req.valid('json') ?? {}), 200);
  });
