/**
 * What every dashboard page and action shares: the request's types, rendering, reading forms
 * (plain 400s a form user can act on), the signed-in human's principal, checked against the
 * authorisation table, and the small components the pages are built from (notices, tables,
 * facts, option lists, delete and pause buttons).
 */
import type { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { Child, FC } from 'hono/jsx';
import { database, type Db } from '../db/client';
import { authorize, type Operation } from '../access/policy';
import type { Env, Variables } from '../env';
import { ApiError } from '../platform/errors';
import { type HtmlNode, htmlDocument } from '../platform/html';
import type { Human } from '../sign-in/magic-link';
import type { AgentJson } from '../accounts/agents';
import type { ProjectJson } from '../accounts/projects';
import type { Viewer } from './views';

export type DashboardBindings = { Bindings: Env; Variables: Variables & { human: Human } };
export type Ctx = Context<DashboardBindings>;

export function render(
  c: Ctx,
  page: HtmlNode,
  status: 200 | 400 | 401 | 402 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 500 | 503 = 200,
): Response {
  return c.html(htmlDocument(page), status);
}

export const viewerOf = (h: Human | undefined): Viewer | null => (h ? { email: h.email, name: h.name } : null);

/** The `back` form field, only if it is a path inside the dashboard. */
export function backTo(form: Form, fallback: string): string {
  const back = one(form, 'back');
  return back && /^\/app(\/[\w/-]*)?(\?[\w=&%.+-]*)?$/.test(back) ? back : fallback;
}

export type Form = Record<string, string | File | (string | File)[]>;

export function one(form: Form, name: string): string | undefined {
  const v = form[name];
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' ? s : undefined;
}

export function many(form: Form, name: string): string[] {
  const v = form[name];
  return (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter((x): x is string => typeof x === 'string');
}

export async function formOf(c: Ctx): Promise<Form> {
  try {
    return await c.req.parseBody({ all: true });
  } catch {
    throw new ApiError({ status: 400, code: 'INVALID_FORM', message: 'The form could not be read.' });
  }
}

/** Zod's first complaint as the plain 400 a form user can act on. */
export function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.map(String).join('.');
  throw new ApiError({ status: 400, code: 'VALIDATION_FAILED', message: `${field ? `${field}: ` : ''}${issue.message}` });
}

export const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

/** The principal of the signed-in human, checked against the authorisation table. */
export function principal(c: Ctx, op: Operation) {
  const p = c.get('human').principal;
  authorize(p, op);
  return p;
}

export const db = (c: Ctx): Db => database(c.env.DB);

// ------------------------------------------------------------------ components

export const PRIORITY = ['', 'normal', 'medium', 'high', 'urgent'];

export const agentLabel = (a: AgentJson) => a.display_name ?? a.name;

/** An agent's label by id; the id itself when the agent is gone; null for none. */
export const agentName = (agents: AgentJson[], id: string | null) => {
  if (!id) return null;
  const agent = agents.find((a) => a.id === id);
  return agent ? agentLabel(agent) : id;
};

/** A status line after an action. */
export const Notice: FC<{ text?: string | undefined }> = ({ text }) =>
  text ? (
    <p class="panel notice" role="status">
      {text}
    </p>
  ) : null;

/** What an empty list says, and how to fill it. */
export const EmptyNote: FC<{ children?: Child }> = ({ children }) => (
  <div class="panel" role="note">
    <p>{children}</p>
  </div>
);

/** A table with one header row; the rows are its children. */
export const Table: FC<{ head: string[]; children?: Child }> = ({ head, children }) => (
  <table>
    <thead>
      <tr>
        {head.map((h) => (
          <th>{h}</th>
        ))}
      </tr>
    </thead>
    <tbody>{children}</tbody>
  </table>
);

/** Label and value pairs; empty values are left out. */
export const Facts: FC<{ rows: [string, Child][] }> = ({ rows }) => (
  <dl class="facts">
    {rows
      .filter(([, v]) => v !== null && v !== undefined && v !== '')
      .map(([k, v]) => (
        <>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </>
      ))}
  </dl>
);

/** The options of an agent picker: active agents, the selected one even if inactive (`all`: every agent). */
export const AgentOptions: FC<{ agents: AgentJson[]; empty: string; selected?: string | null; all?: boolean }> = ({
  agents,
  empty,
  selected,
  all,
}) => (
  <>
    <option value="">{empty}</option>
    {agents
      .filter((a) => all || a.active || a.id === selected)
      .map((a) => (
        <option value={a.id} selected={a.id === selected}>
          {agentLabel(a)}
        </option>
      ))}
  </>
);

export const ProjectOptions: FC<{ projects: ProjectJson[]; empty: string; selected?: string | null | undefined }> = ({
  projects,
  empty,
  selected,
}) => (
  <>
    <option value="">{empty}</option>
    {projects.map((p) => (
      <option value={p.id} selected={p.id === selected}>
        {p.name}
      </option>
    ))}
  </>
);

export const PriorityOptions: FC<{ selected?: number }> = ({ selected }) => (
  <>
    {[1, 2, 3, 4].map((n) => (
      <option value={String(n)} selected={n === selected}>
        {PRIORITY[n]}
      </option>
    ))}
  </>
);

/** `action`/delete, behind a confirmation. */
export const DeleteForm: FC<{ action: string; what: string; confirm: string }> = ({ action, what, confirm }) => (
  <form method="post" action={`${action}/delete`} data-confirm={confirm}>
    <button class="danger" type="submit" aria-label={`Delete ${what}`}>
      Delete
    </button>
  </form>
);

/** `action`/pause or `action`/resume. */
export const PauseForm: FC<{ action: string; active: boolean; what: string }> = ({ action, active, what }) => (
  <form method="post" action={`${action}/${active ? 'pause' : 'resume'}`}>
    <button class="quiet" type="submit" aria-label={`${active ? 'Pause' : 'Resume'} ${what}`}>
      {active ? 'Pause' : 'Resume'}
    </button>
  </form>
);
