/**
 * /app/recurrences, /app/automations, /app/ingress: list, create, edit, pause/resume, delete,
 * and the run and delivery logs. A form becomes the body the API takes and is checked by the
 * API's own schema, then the same domain function runs, authorised by the same operation.
 */
import type { z } from '@hono/zod-openapi';
import { Hono } from 'hono';
import { limit } from '../platform/config';
import { ApiError } from '../platform/errors';
import { principalCache } from '../access/key-gate';
import { CreateRecurrenceBody, UpdateRecurrenceBody } from '../recurrences/routes';
import { createRecurrence, deleteRecurrence, updateRecurrence } from '../recurrences/recurrences';
import { CreateAutomationBody, UpdateAutomationBody } from '../automations/routes';
import { createAutomation, deleteAutomation, updateAutomation } from '../automations/store';
import { CreateIngressSourceBody, UpdateIngressSourceBody } from '../ingress/routes';
import { createSource, deleteSource, updateSource } from '../ingress/sources';
import { db, formOf, one, parse, principal, render, viewerOf, type Ctx, type DashboardBindings, type Form } from './kit';
import {
  automationPageData,
  automationsPageData,
  ingressPageData,
  ingressSourcePageData,
  recurrencePageData,
  recurrencesPageData,
} from './workflow-queries';
import { AutomationPage, AutomationsPage, IngressPage, IngressSourcePage, RecurrencePage, RecurrencesPage } from './workflow-views';

const ID_MAX = 64;
const idParam = (c: Ctx) => c.req.param('id')!.slice(0, ID_MAX);
const viewer = (c: Ctx) => viewerOf(c.get('human'))!;
const origin = (c: Ctx) => new URL(c.req.url).origin;

/** A text field; blank is `blank` (undefined on create, null on edit: "clear it"). */
function text(form: Form, name: string, blank: undefined | null = undefined): string | null | undefined {
  const v = one(form, name)?.trim();
  return v ? v : blank;
}

const list = (form: Form, name: string) =>
  (one(form, name) ?? '')
    .split(',')
    .map((l) => l.trim())
    .filter(Boolean);

function int(form: Form, name: string): number | string | undefined {
  const v = one(form, name)?.trim();
  if (!v) return undefined;
  return /^-?\d+$/.test(v) ? Number(v) : v;
}

/** A JSON field of the form, parsed, or the plain 400 that says which field. */
function json(form: Form, name: string, fallback: unknown): unknown {
  const raw = one(form, name)?.trim();
  if (!raw) return fallback;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new ApiError({ status: 400, code: 'VALIDATION_FAILED', message: `${name}: not valid JSON` });
  }
}

// ---------------------------------------------------------------- recurrences

function recurrenceBody(form: Form, editing: boolean) {
  const blank = editing ? null : undefined;
  return {
    content: text(form, 'content') ?? '',
    rule_type: one(form, 'rule_type'),
    interval: int(form, 'interval'),
    timezone: text(form, 'timezone'),
    next_due_at: text(form, 'next_due_at'),
    priority: text(form, 'priority'),
    labels: list(form, 'labels'),
    project_id: text(form, 'project_id', blank),
    assigned_to_agent_id: text(form, 'assigned_to_agent_id', blank),
    skip_if_open: one(form, 'skip_if_open') === 'true',
  };
}

const withoutUndefined = <T extends Record<string, unknown>>(o: T) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

// ---------------------------------------------------------------- automations

function automationBody(form: Form) {
  return {
    name: text(form, 'name') ?? '',
    event: one(form, 'event'),
    conditions: json(form, 'conditions', []),
    actions: json(form, 'actions', []),
  };
}

// ---------------------------------------------------------------- ingress

function sourceBody(form: Form, editing: boolean) {
  const blank = editing ? null : undefined;
  const labels = list(form, 'template_labels');
  return {
    name: text(form, 'name') ?? '',
    template: withoutUndefined({
      content: text(form, 'template_content') ?? '',
      description: text(form, 'template_description'),
      priority: int(form, 'priority'),
      labels: labels.length ? labels : undefined,
      dedupe_key: text(form, 'template_dedupe_key'),
    }),
    filters: json(form, 'filters', []),
    default_project_id: text(form, 'default_project_id', blank),
    default_assignee_agent_id: text(form, 'default_assignee_agent_id', blank),
  };
}

const checked = <T extends z.ZodType>(schema: T, body: Record<string, unknown>) => parse(schema, withoutUndefined(body));

export const workflowPages = new Hono<DashboardBindings>()
  // ---------------------------------------------------------------- recurrences
  .get('/recurrences', async (c) => {
    const p = principal(c, 'recurrences.list');
    return render(c, <RecurrencesPage viewer={viewer(c)} data={await recurrencesPageData(db(c), p)} />);
  })
  .post('/recurrences', async (c) => {
    const p = principal(c, 'recurrences.create');
    const input = checked(CreateRecurrenceBody, recurrenceBody(await formOf(c), false));
    const row = await createRecurrence(db(c), p, { input, maxPerAccount: limit(c.env, 'RECURRENCES_PER_ACCOUNT'), now: Date.now() });
    return c.redirect(`/app/recurrences/${row.id}`, 303);
  })
  .get('/recurrences/:id', async (c) => {
    const p = principal(c, 'recurrences.list');
    return render(c, <RecurrencePage viewer={viewer(c)} data={await recurrencePageData(db(c), p, idParam(c))} />);
  })
  .post('/recurrences/:id/edit', async (c) => {
    const p = principal(c, 'recurrences.update');
    const form = await formOf(c);
    const body = recurrenceBody(form, true);
    const id = idParam(c);
    // The form resends the rule; only a changed rule reschedules (updateRecurrence recomputes on any rule field).
    const ruleSame = ['rule_type', 'interval', 'timezone'].every((f) => one(form, f)?.trim() === one(form, `was_${f}`));
    const input = checked(
      UpdateRecurrenceBody,
      ruleSame ? { ...body, rule_type: undefined, interval: undefined, timezone: undefined } : body,
    );
    await updateRecurrence(db(c), p, { recurrenceId: id, input, now: Date.now() });
    return c.redirect(`/app/recurrences/${id}`, 303);
  })
  .post('/recurrences/:id/pause', async (c) => {
    const p = principal(c, 'recurrences.update');
    await updateRecurrence(db(c), p, { recurrenceId: idParam(c), input: { active: false }, now: Date.now() });
    return c.redirect('/app/recurrences', 303);
  })
  .post('/recurrences/:id/resume', async (c) => {
    const p = principal(c, 'recurrences.update');
    await updateRecurrence(db(c), p, { recurrenceId: idParam(c), input: { active: true }, now: Date.now() });
    return c.redirect('/app/recurrences', 303);
  })
  .post('/recurrences/:id/delete', async (c) => {
    const p = principal(c, 'recurrences.delete');
    await deleteRecurrence(db(c), p, idParam(c));
    return c.redirect('/app/recurrences', 303);
  })
  // ---------------------------------------------------------------- automations
  .get('/automations', async (c) => {
    const p = principal(c, 'automations.list');
    return render(c, <AutomationsPage viewer={viewer(c)} data={await automationsPageData(db(c), p)} />);
  })
  .post('/automations', async (c) => {
    const p = principal(c, 'automations.create');
    const input = checked(CreateAutomationBody, automationBody(await formOf(c)));
    const rule = await createAutomation(db(c), p, {
      cache: principalCache(c.env),
      input,
      maxRules: limit(c.env, 'AUTOMATIONS_PER_ACCOUNT'),
      now: Date.now(),
    });
    return c.redirect(`/app/automations/${rule.id}`, 303);
  })
  .get('/automations/:id', async (c) => {
    const p = principal(c, 'automations.runs');
    return render(c, <AutomationPage viewer={viewer(c)} data={await automationPageData(db(c), p, idParam(c))} />);
  })
  .post('/automations/:id/edit', async (c) => {
    const p = principal(c, 'automations.update');
    const input = checked(UpdateAutomationBody, automationBody(await formOf(c)));
    await updateAutomation(db(c), p, { cache: principalCache(c.env), automationId: idParam(c), input, now: Date.now() });
    return c.redirect(`/app/automations/${idParam(c)}`, 303);
  })
  .post('/automations/:id/pause', async (c) => {
    const p = principal(c, 'automations.update');
    await updateAutomation(db(c), p, { cache: principalCache(c.env), automationId: idParam(c), input: { active: false }, now: Date.now() });
    return c.redirect('/app/automations', 303);
  })
  .post('/automations/:id/resume', async (c) => {
    const p = principal(c, 'automations.update');
    await updateAutomation(db(c), p, { cache: principalCache(c.env), automationId: idParam(c), input: { active: true }, now: Date.now() });
    return c.redirect('/app/automations', 303);
  })
  .post('/automations/:id/delete', async (c) => {
    const p = principal(c, 'automations.delete');
    await deleteAutomation(db(c), p, idParam(c));
    return c.redirect('/app/automations', 303);
  })
  // ---------------------------------------------------------------- ingress sources
  .get('/ingress', async (c) => {
    const p = principal(c, 'ingress.list');
    return render(c, <IngressPage viewer={viewer(c)} data={await ingressPageData(db(c), p)} baseUrl={origin(c)} />);
  })
  .post('/ingress', async (c) => {
    const p = principal(c, 'ingress.create');
    const input = checked(CreateIngressSourceBody, sourceBody(await formOf(c), false));
    const created = await createSource(db(c), p, { input, maxSources: limit(c.env, 'INGRESS_SOURCES_PER_ACCOUNT'), now: Date.now() });
    // The secret is in this answer only: rendered here, never behind a redirect.
    return render(c, <IngressPage viewer={viewer(c)} data={await ingressPageData(db(c), p)} created={created} baseUrl={origin(c)} />);
  })
  .get('/ingress/:id', async (c) => {
    const p = principal(c, 'ingress.deliveries');
    return render(c, <IngressSourcePage viewer={viewer(c)} data={await ingressSourcePageData(db(c), p, idParam(c))} baseUrl={origin(c)} />);
  })
  .post('/ingress/:id/edit', async (c) => {
    const p = principal(c, 'ingress.update');
    const input = checked(UpdateIngressSourceBody, sourceBody(await formOf(c), true));
    await updateSource(db(c), p, { sourceId: idParam(c), input, now: Date.now() });
    return c.redirect(`/app/ingress/${idParam(c)}`, 303);
  })
  .post('/ingress/:id/rotate', async (c) => {
    const p = principal(c, 'ingress.update');
    const rotated = await updateSource(db(c), p, { sourceId: idParam(c), input: { rotate_secret: true }, now: Date.now() });
    return render(
      c,
      <IngressSourcePage
        viewer={viewer(c)}
        data={await ingressSourcePageData(db(c), p, idParam(c))}
        rotated={rotated}
        baseUrl={origin(c)}
      />,
    );
  })
  .post('/ingress/:id/pause', async (c) => {
    const p = principal(c, 'ingress.update');
    await updateSource(db(c), p, { sourceId: idParam(c), input: { active: false }, now: Date.now() });
    return c.redirect('/app/ingress', 303);
  })
  .post('/ingress/:id/resume', async (c) => {
    const p = principal(c, 'ingress.update');
    await updateSource(db(c), p, { sourceId: idParam(c), input: { active: true }, now: Date.now() });
    return c.redirect('/app/ingress', 303);
  })
  .post('/ingress/:id/delete', async (c) => {
    const p = principal(c, 'ingress.delete');
    await deleteSource(db(c), p, idParam(c));
    return c.redirect('/app/ingress', 303);
  });
