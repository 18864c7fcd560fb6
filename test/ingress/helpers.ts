/** Signing as a sender would (independently of the server's code), and deliveries through the Worker. */
import { SELF } from 'cloudflare:test';
import { expect } from 'vitest';
import { api, BASE, type TestAccount } from '../helpers/fixtures';

const encoder = new TextEncoder();

export async function hmacHex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const sig = await crypto.subtle.sign('HMAC', key, encoder.encode(message));
  return [...new Uint8Array(sig)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', encoder.encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

export async function signature(secret: string, body: string, t = nowSeconds()): Promise<string> {
  return `t=${t},v1=${await hmacHex(secret, `${t}.${body}`)}`;
}

export interface Delivered {
  status: number;
  body: any;
  headers: Headers;
}

/** POSTs `body` (raw text) to the source's endpoint with the given signature header (or none). */
export async function deliver(
  sourceId: string,
  body: string,
  sig: string | null,
  headers: Record<string, string> = {},
): Promise<Delivered> {
  const res = await SELF.fetch(`${BASE}/v1/ingress/${sourceId}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(sig ? { 'X-Delega-Ingress-Signature': sig } : {}), ...headers },
    body,
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The assertion on the body will show it.
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export async function signedDelivery(source: { id: string; secret: string }, payload: unknown): Promise<Delivered> {
  const body = JSON.stringify(payload);
  return deliver(source.id, body, await signature(source.secret, body));
}

export const CI_TEMPLATE = {
  content: 'CI failed: {{workflow.name}} on {{branch}}',
  description: 'Run {{run.id}} concluded {{workflow.conclusion}}',
  priority: 3,
  labels: ['ci'],
  dedupe_key: '{{run.id}}',
};

export const ciFailure = (runId: number, extra: Record<string, unknown> = {}) => ({
  workflow: { name: 'test', conclusion: 'failure' },
  branch: 'main',
  run: { id: runId },
  ...extra,
});

export async function makeSource(
  acct: TestAccount,
  body: Record<string, unknown> = {},
): Promise<{ id: string; secret: string } & Record<string, any>> {
  const res = await api('POST', '/v1/ingress-sources', acct.adminKey, { name: 'github-actions-ci', template: CI_TEMPLATE, ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

export async function accountTasks(acct: TestAccount): Promise<any[]> {
  return (await api('GET', '/v1/tasks?limit=100', acct.adminKey)).body;
}
