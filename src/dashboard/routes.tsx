/**
 * The dashboard at /app: sign-in by magic link, then the board, task pages, agents, fleet
 * attention, webhooks and usage. Pages call the domain functions the API calls, as the
 * signed-in human's principal (the account's admin, see sign-in/magic-link.ts), and every action
 * is authorised by the same table (access/policy.ts). Writes are form POSTs answered with a
 * redirect (or a page showing a secret once); Hono's csrf middleware refuses cross-origin forms.
 */
import { z } from '@hono/zod-openapi';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { csrf } from 'hono/csrf';
import { HTTPException } from 'hono/http-exception';
import { createAgent, deleteAgent, listAgents, rotateAgentKey, updateAgent } from '../accounts/agents';
import { fleetAttention } from '../work-queue/fleet';
import { createCheckout, createPortal } from '../accounts/billing';
import type { TaskInput } from '../tasks/tasks';
import { usage, usageLimitsFor } from '../accounts/usage';
import { createWebhook, listWebhooks, pingWebhook, redeliver } from '../webhooks/webhooks';
import { isDevelopment, keyPepper, limit } from '../platform/config';
import { ApiError } from '../platform/errors';
import { principalCache } from '../access/key-gate';
import { limitIp, onboardingDeps } from '../onboarding/routes';
import { agentSlug, ROLE } from '../http/schemas';
import { dueDateInput, priorityInput } from '../tasks/routes';
import { clearSessionCookie, sessionToken, setSessionCookie } from '../sign-in/cookie';
import {
  consumeSignIn,
  loadHuman,
  requestSignIn,
  revokeAllSessions,
  revokeSession,
  revokeSessionToken,
  safeNext,
  type Human,
} from '../sign-in/magic-link';
import {
  addCommentChange,
  completeTaskChange,
  createTaskChange,
  delegateTaskChange,
  uncompleteTaskChange,
  updateTaskChange,
  type TaskChange,
} from '../tasks/use-cases';
import { CLIENT_SCRIPT, STYLESHEET } from './assets';
import { workflowPages } from './workflow-routes';
import { taskExtras } from './task-routes';
import {
  backTo,
  blankToUndefined,
  db,
  formOf,
  many,
  one,
  parse,
  principal,
  render,
  viewerOf,
  type Ctx,
  type DashboardBindings,
} from './kit';
import { connectionRoutes } from './connections';
import { boardData, COLUMNS, taskPageData, webhookPageData, type BoardFilters, type ColumnName } from './queries';
import {
  AgentsPage,
  BoardPage,
  ErrorPage,
  FleetPage,
  MessagePage,
  SignInLinkPage,
  SignInPage,
  TaskPage,
  UsagePage,
  WebhookPage,
  WebhooksPage,
} from './views';

// Stripe's pages are where checkout and the portal continue (a form's redirect is checked too).
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self' https://checkout.stripe.com https://billing.stripe.com",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const PAGE_HEADERS: Record<string, string> = {
  'Cache-Control': 'no-store',
  'Content-Security-Policy': CSP,
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  // The sign-in link page carries its token in the URL: never pass it on.
  'Referrer-Policy': 'no-referrer',
};

const FORM_BYTES = 64 * 1024;

const labelList = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? '')
      .split(',')
      .map((l) => l.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().max(50, 'A label has at most 50 characters')).max(20, 'At most 20 labels'));
const refId = z.preprocess(blankToUndefined, z.string().max(64).optional());

const TaskForm = z.object({
  content: z.string().trim().min(1, 'Required').max(500, 'At most 500 characters'),
  description: z.string().max(10_000, 'At most 10000 characters').optional(),
  priority: z.preprocess(blankToUndefined, priorityInput.optional()),
  labels: labelList,
  project_id: refId,
  assigned_to_agent_id: refId,
  due_date: z.preprocess(blankToUndefined, dueDateInput.optional()),
});

const Evidence = z.object({
  evidence_kind: z.string().optional(),
  evidence_ref: z.string().trim().max(500, 'At most 500 characters').optional(),
  evidence_summary: z.string().trim().max(1000, 'At most 1000 characters').optional(),
});

const AgentForm = z.object({
  name: agentSlug,
  display_name: z.preprocess(blankToUndefined, z.string().max(100).optional()),
  role: ROLE.default('worker'),
});

const WebhookForm = z.object({
  url: z.string().trim().min(1, 'Required').max(2048),
  events: z.array(z.string()).min(1, 'Pick at least one event'),
  description: z.preprocess(blankToUndefined, z.string().max(500).optional()),
});

/** A form's change: the same use-cases (and side effects) as the API's routes. */
const change = (c: Ctx, principal: TaskChange['principal']): TaskChange => ({ fx: { env: c.env, ctx: c.executionCtx }, principal });

const humanAuthor = (h: Human) => `${h.name ?? h.email} (human)`;

function boardFilters(c: Ctx): BoardFilters {
  const q = (name: string) => {
    const v = c.req.query(name)?.trim();
    return v ? v.slice(0, 200) : undefined;
  };
  const offsets = Object.fromEntries(
    COLUMNS.map((col) => [col, Math.min(1_000_000, Math.max(0, Math.floor(Number(c.req.query(`${col}_offset`)) || 0)))]),
  ) as Record<ColumnName, number>;
  return { project: q('project'), label: q('label'), assignee: q('assignee'), search: q('q'), offsets };
}

const signIn = new Hono<DashboardBindings>()
  // `next`: where the human goes once signed in (the MCP consent page sends them here with its own URL).
  .get('/sign-in', (c) => render(c, <SignInPage next={safeNext(c.req.query('next'))} />))
  .post('/sign-in', async (c) => {
    const form = await formOf(c);
    const email = parse(z.object({ email: z.email('Enter an email address').max(254) }), { email: one(form, 'email')?.trim() }).email;
    const next = safeNext(one(form, 'next'));
    const deps = onboardingDeps(c as unknown as Context);
    const now = Date.now();
    await limitIp(c as unknown as Context, deps, now);
    const { message } = await requestSignIn(
      {
        db: deps.db,
        pepper: deps.pepper,
        mailer: deps.mailer,
        rate: deps.rate,
        emailsPerHour: deps.limits.emailsPerHour,
        linkUrl: `${deps.linkBase.replace(/\/+$/, '')}/app/sign-in/link`,
      },
      { email, next },
      now,
    );
    return render(c, <SignInPage message={message} email={email} next={next} />);
  })
  // Opening the link signs nothing in (mail scanners prefetch links): the button does.
  .get('/sign-in/link', (c) => {
    const token = (c.req.query('token') ?? '').slice(0, 100);
    return render(c, <SignInLinkPage token={token} next={safeNext(c.req.query('next'))} />);
  })
  .post('/sign-in/link', async (c) => {
    const form = await formOf(c);
    const deps = onboardingDeps(c as unknown as Context, false);
    const now = Date.now();
    await limitIp(c as unknown as Context, deps, now);
    const session = await consumeSignIn(deps, (one(form, 'token') ?? '').trim(), now);
    if (!session) {
      return render(
        c,
        <MessagePage title="Sign-in link not valid">
          <p role="alert">This sign-in link is unknown, expired or already used. Links work once, for 15 minutes.</p>
          <p>
            <a href="/app/sign-in">Get a new link</a>
          </p>
        </MessagePage>,
        400,
      );
    }
    // A new token every sign-in; the session this browser had (if any) ends.
    await revokeSessionToken(deps.db, { pepper: deps.pepper, token: sessionToken(c), now });
    setSessionCookie(c, session.token);
    return c.redirect(safeNext(one(form, 'next')), 303);
  });

/** Pages and actions that need a signed-in human. */
const pages = new Hono<DashboardBindings>()
  .use('*', async (c, next) => {
    const human = await loadHuman(db(c), { pepper: keyPepper(c.env), token: sessionToken(c), now: Date.now() });
    if (!human) {
      if (sessionToken(c)) clearSessionCookie(c);
      if (c.req.method === 'GET') return c.redirect('/app/sign-in', 303);
      return render(
        c,
        <MessagePage title="Signed out">
          <p role="alert">Your session has ended. Sign in again to continue.</p>
          <p>
            <a href="/app/sign-in">Sign in</a>
          </p>
        </MessagePage>,
        401,
      );
    }
    c.set('human', human);
    await next();
  })
  .post('/sign-out', async (c) => {
    await revokeSession(db(c), c.get('human').sessionId, Date.now());
    clearSessionCookie(c);
    return c.redirect('/app/sign-in', 303);
  })
  .post('/sign-out-everywhere', async (c) => {
    await revokeAllSessions(db(c), c.get('human').userId, Date.now());
    clearSessionCookie(c);
    return c.redirect('/app/sign-in', 303);
  })
  // ---------------------------------------------------------------- board and tasks
  .get('/', async (c) => {
    const p = principal(c, 'tasks.list');
    const now = Date.now();
    const filters = boardFilters(c);
    const data = await boardData(db(c), p, { filters, now });
    return render(
      c,
      <BoardPage viewer={viewerOf(c.get('human'))!} data={data} filters={filters} now={now} baseUrl={new URL(c.req.url).origin} />,
    );
  })
  .post('/tasks', async (c) => {
    const p = principal(c, 'tasks.create');
    const form = await formOf(c);
    const input = parse(TaskForm, { ...form, labels: one(form, 'labels') });
    await createTaskChange(change(c, p), input);
    return c.redirect(backTo(form, '/app'), 303);
  })
  .get('/tasks/:id', async (c) => {
    const p = principal(c, 'tasks.read');
    const now = Date.now();
    const data = await taskPageData(db(c), p, { taskId: c.req.param('id').slice(0, 64), now });
    return render(c, <TaskPage viewer={viewerOf(c.get('human'))!} data={data} now={now} />);
  })
  .post('/tasks/:id/edit', async (c) => {
    const p = principal(c, 'tasks.update');
    const id = c.req.param('id');
    const form = await formOf(c);
    const parsed = parse(TaskForm, { ...form, labels: one(form, 'labels') });
    // Only the fields the form carries change (a card's quick edit has fewer than the task page's).
    const has = (name: string) => name in form;
    const input: TaskInput = {
      content: parsed.content,
      priority: parsed.priority,
      ...(has('description') ? { description: parsed.description?.trim() ? parsed.description : null } : {}),
      ...(has('labels') ? { labels: parsed.labels } : {}),
      ...(has('assigned_to_agent_id') ? { assigned_to_agent_id: parsed.assigned_to_agent_id ?? null } : {}),
      ...(has('due_date') ? { due_date: parsed.due_date ?? null } : {}),
    };
    await updateTaskChange(change(c, p), id, input);
    return c.redirect(backTo(form, `/app/tasks/${encodeURIComponent(id)}`), 303);
  })
  .post('/tasks/:id/complete', async (c) => {
    const p = principal(c, 'tasks.complete');
    const id = c.req.param('id');
    const form = await formOf(c);
    const ev = parse(Evidence, {
      evidence_kind: one(form, 'evidence_kind'),
      evidence_ref: one(form, 'evidence_ref'),
      evidence_summary: one(form, 'evidence_summary'),
    });
    const evidence = ev.evidence_ref
      ? [
          parse(
            z.object({
              kind: z.enum(['commit', 'pr', 'ci_check', 'deploy_sha', 'artifact_url', 'command_output']),
              ref: z.string(),
              summary: z.string().optional(),
            }),
            { kind: ev.evidence_kind, ref: ev.evidence_ref, summary: ev.evidence_summary || undefined },
          ),
        ]
      : [];
    await completeTaskChange(change(c, p), id, evidence);
    return c.redirect(backTo(form, '/app'), 303);
  })
  .post('/tasks/:id/reopen', async (c) => {
    const p = principal(c, 'tasks.uncomplete');
    const form = await formOf(c);
    await uncompleteTaskChange(change(c, p), c.req.param('id'));
    return c.redirect(backTo(form, '/app'), 303);
  })
  .post('/tasks/:id/delegate', async (c) => {
    const p = principal(c, 'tasks.delegate');
    const id = c.req.param('id');
    const form = await formOf(c);
    const input = parse(TaskForm, { ...form, labels: one(form, 'labels') });
    await delegateTaskChange(change(c, p), id, input);
    return c.redirect(backTo(form, `/app/tasks/${encodeURIComponent(id)}`), 303);
  })
  .post('/tasks/:id/comments', async (c) => {
    const p = principal(c, 'tasks.comments.write');
    const id = c.req.param('id');
    const form = await formOf(c);
    const { content } = parse(
      z.object({ content: z.string().trim().min(1, 'Write something first').max(10_000, 'At most 10000 characters') }),
      { content: one(form, 'content') },
    );
    // Recorded as the human, though it acts as the account's recovery agent.
    await addCommentChange(change(c, p), id, { content, author: humanAuthor(c.get('human')) });
    return c.redirect(`/app/tasks/${encodeURIComponent(id)}#h-comments`, 303);
  })
  // ---------------------------------------------------------------- agents
  .get('/agents', async (c) => {
    const p = principal(c, 'agents.list');
    return render(c, <AgentsPage viewer={viewerOf(c.get('human'))!} agents={await listAgents(db(c), p)} />);
  })
  .post('/agents', async (c) => {
    const p = principal(c, 'agents.create');
    const form = await formOf(c);
    const input = parse(AgentForm, { name: one(form, 'name')?.trim(), display_name: one(form, 'display_name'), role: one(form, 'role') });
    const agent = await createAgent(db(c), p, {
      pepper: keyPepper(c.env),
      input,
      maxAgents: limit(c.env, 'AGENTS_PER_ACCOUNT'),
      now: Date.now(),
    });
    const agents = await listAgents(db(c), p);
    return render(
      c,
      <AgentsPage viewer={viewerOf(c.get('human'))!} agents={agents} newKey={{ agent: agent.name, key: agent.api_key!, rotated: false }} />,
    );
  })
  .post('/agents/:id/rotate', async (c) => {
    const p = principal(c, 'agents.rotate_key');
    const agent = await rotateAgentKey(db(c), p, {
      cache: principalCache(c.env),
      pepper: keyPepper(c.env),
      agentId: c.req.param('id'),
      now: Date.now(),
    });
    const agents = await listAgents(db(c), p);
    return render(
      c,
      <AgentsPage viewer={viewerOf(c.get('human'))!} agents={agents} newKey={{ agent: agent.name, key: agent.api_key!, rotated: true }} />,
    );
  })
  .post('/agents/:id/role', async (c) => {
    const p = principal(c, 'agents.manage');
    const form = await formOf(c);
    const role = parse(ROLE, one(form, 'role'));
    await updateAgent(db(c), p, { cache: principalCache(c.env), agentId: c.req.param('id'), input: { role }, now: Date.now() });
    return c.redirect('/app/agents', 303);
  })
  .post('/agents/:id/deactivate', async (c) => {
    const p = principal(c, 'agents.manage');
    await updateAgent(db(c), p, { cache: principalCache(c.env), agentId: c.req.param('id'), input: { active: false }, now: Date.now() });
    return c.redirect('/app/agents', 303);
  })
  .post('/agents/:id/activate', async (c) => {
    const p = principal(c, 'agents.manage');
    await updateAgent(db(c), p, { cache: principalCache(c.env), agentId: c.req.param('id'), input: { active: true }, now: Date.now() });
    return c.redirect('/app/agents', 303);
  })
  .post('/agents/:id/delete', async (c) => {
    const p = principal(c, 'agents.delete');
    await deleteAgent(db(c), p, { cache: principalCache(c.env), agentId: c.req.param('id') });
    return c.redirect('/app/agents', 303);
  })
  // ---------------------------------------------------------------- fleet
  .get('/fleet', async (c) => {
    const p = principal(c, 'fleet.attention');
    return render(c, <FleetPage viewer={viewerOf(c.get('human'))!} attention={await fleetAttention(db(c), p, Date.now())} />);
  })
  // ---------------------------------------------------------------- webhooks
  .get('/webhooks', async (c) => {
    const p = principal(c, 'webhooks.list');
    return render(c, <WebhooksPage viewer={viewerOf(c.get('human'))!} webhooks={await listWebhooks(db(c), p)} />);
  })
  .post('/webhooks', async (c) => {
    const p = principal(c, 'webhooks.create');
    const form = await formOf(c);
    const input = parse(WebhookForm, { url: one(form, 'url'), events: many(form, 'events'), description: one(form, 'description') });
    const created = await createWebhook(db(c), p, {
      cache: principalCache(c.env),
      settings: { development: isDevelopment(c.env) },
      input,
      maxWebhooks: limit(c.env, 'WEBHOOKS_PER_ACCOUNT'),
      now: Date.now(),
    });
    return render(c, <WebhooksPage viewer={viewerOf(c.get('human'))!} webhooks={await listWebhooks(db(c), p)} created={created} />);
  })
  .get('/webhooks/:id', async (c) => {
    const p = principal(c, 'webhooks.deliveries');
    const { webhook, deliveries } = await webhookPageData(db(c), p, c.req.param('id').slice(0, 64));
    const notice =
      c.req.query('sent') === 'ping' ? 'Test ping queued.' : c.req.query('sent') === 'redelivery' ? 'Redelivery queued.' : undefined;
    return render(c, <WebhookPage viewer={viewerOf(c.get('human'))!} webhook={webhook} deliveries={deliveries} notice={notice} />);
  })
  .post('/webhooks/:id/ping', async (c) => {
    const p = principal(c, 'webhooks.test');
    const id = c.req.param('id');
    await pingWebhook(db(c), p, { env: c.env, webhookId: id, now: Date.now() });
    return c.redirect(`/app/webhooks/${encodeURIComponent(id)}?sent=ping`, 303);
  })
  .post('/webhooks/:id/deliveries/:deliveryId/redeliver', async (c) => {
    const p = principal(c, 'webhooks.redeliver');
    const id = c.req.param('id');
    await redeliver(db(c), p, { env: c.env, webhookId: id, deliveryId: c.req.param('deliveryId'), now: Date.now() });
    return c.redirect(`/app/webhooks/${encodeURIComponent(id)}?sent=redelivery`, 303);
  })
  // ---------------------------------------------------------------- usage and billing
  .get('/usage', async (c) => {
    const p = principal(c, 'account.usage');
    const database_ = db(c);
    const now = Date.now();
    const [used, agents] = await Promise.all([
      usage(database_, p, { limits: usageLimitsFor(c.env, p.plan), now }),
      listAgents(database_, p),
    ]);
    return render(
      c,
      <UsagePage
        viewer={viewerOf(c.get('human'))!}
        usage={used}
        agentCount={agents.length}
        agentLimit={limit(c.env, 'AGENTS_PER_ACCOUNT')}
        billingConfigured={Boolean(c.env.STRIPE_SECRET_KEY)}
      />,
    );
  })
  .post('/billing/checkout', async (c) => {
    const p = principal(c, 'billing.checkout');
    const form = await formOf(c);
    const plan = parse(z.enum(['pro', 'scale']), one(form, 'plan'));
    const { url } = await createCheckout(db(c), p, { env: c.env, plan });
    return c.redirect(url, 303);
  })
  .post('/billing/portal', async (c) => {
    const p = principal(c, 'billing.portal');
    const { url } = await createPortal(db(c), c.env, p);
    return c.redirect(url, 303);
  })
  .route('/', workflowPages)
  .route('/', taskExtras)
  .route('/', connectionRoutes);

export const dashboardRoutes = new Hono<DashboardBindings>()
  .use('*', async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(PAGE_HEADERS)) c.res.headers.set(name, value);
  })
  // Forms from another origin are refused before anything runs (the cookie is SameSite=Lax too).
  .use('*', csrf())
  .use(
    '*',
    bodyLimit({
      maxSize: FORM_BYTES,
      onError: () => Promise.reject(new ApiError({ status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'The form is too large.' })),
    }),
  )
  .get('/assets/app.css', (c) => c.body(STYLESHEET, 200, { 'Content-Type': 'text/css; charset=utf-8' }))
  .get('/assets/app.js', (c) => c.body(CLIENT_SCRIPT, 200, { 'Content-Type': 'text/javascript; charset=utf-8' }))
  .route('/', signIn)
  .route('/', pages);

dashboardRoutes.onError(async (thrown, c) => {
  let err = thrown;
  if (!(err instanceof ApiError) && !(err instanceof HTTPException)) {
    console.error(JSON.stringify({ level: 'error', event: 'dashboard_error', message: err instanceof Error ? err.message : String(err) }));
  }
  // Hono's csrf middleware refuses with a 403 HTTPException.
  if (err instanceof HTTPException && err.status === 403)
    err = new ApiError({
      status: 403,
      code: 'CROSS_SITE_FORM',
      message: 'This form was sent from another site, so it was refused. Use the dashboard itself.',
    });
  const status = err instanceof ApiError ? err.status : 500;
  const res = await render(
    c as Ctx,
    <ErrorPage
      viewer={viewerOf((c as Ctx).get('human'))}
      status={status}
      code={err instanceof ApiError ? err.code : 'INTERNAL'}
      message={err instanceof ApiError ? err.message : 'Something went wrong on our side.'}
    />,
    status,
  );
  for (const [name, value] of Object.entries(err instanceof ApiError ? (err.headers ?? {}) : {})) res.headers.set(name, value);
  return res;
});
