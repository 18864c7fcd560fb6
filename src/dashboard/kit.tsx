/**
 * What every dashboard page and action shares: the request's types, rendering, reading forms
 * (plain 400s a form user can act on) and the signed-in human's principal, checked against the
 * authorisation table.
 */
import type { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { database, type Db } from '../db/client';
import { authorize, type Operation } from '../access/policy';
import type { Env, Variables } from '../env';
import { ApiError } from '../platform/errors';
import { type HtmlNode, htmlDocument } from '../platform/html';
import type { Human } from '../sign-in/magic-link';
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
