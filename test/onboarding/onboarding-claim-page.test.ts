import { SELF } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, BASE } from '../helpers/fixtures';
import { agentFirst, freshIp } from '../helpers/onboarding';

afterEach(() => vi.useRealTimers());

async function page(path: string, init: RequestInit = {}) {
  const res = await SELF.fetch(`${BASE}${path}`, { ...init, headers: { 'CF-Connecting-IP': freshIp(), ...(init.headers ?? {}) } });
  return { status: res.status, headers: res.headers, html: await res.text() };
}

const confirm = (token: string) =>
  page('/claim', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
  });

describe('the claim page', () => {
  it('shows what is being claimed, without claiming it, and a confirm form', async () => {
    const { mail, key } = await agentFirst({ agent_label: 'Release Helper', use_case: 'Tags and ships builds' });
    const res = await page(`/claim?token=${mail.token}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('Content-Type')).toContain('text/html');
    expect(res.headers.get('Cache-Control')).toBe('no-store');
    expect(res.headers.get('Referrer-Policy')).toBe('no-referrer');
    expect(res.html).toContain('<html lang="en">');
    expect(res.html).toContain('helper-bot');
    expect(res.html).toContain('Release Helper');
    expect(res.html).toContain('Tags and ships builds');
    expect(res.html).toMatch(/h\*\*\*@example\.com/);
    expect(res.html).toContain('<form method="post" action="/claim">');
    expect(res.html).toContain(`name="token" value="${mail.token}"`);
    expect(res.html).toContain('<button type="submit">Claim Release Helper</button>');
    expect(res.html).not.toContain('<script');
    expect((await api('GET', '/v1/agent/me', key)).body.mode).toBe('restricted');
  });

  it('claims on confirm, then says the link is used', async () => {
    const { mail, key } = await agentFirst();
    const done = await confirm(mail.token!);
    expect(done.status).toBe(200);
    expect(done.html).toContain('Agent claimed');
    expect(done.html).toContain('helper-bot');
    expect((await api('GET', '/v1/agent/me', key)).body.mode).toBe('admin');

    const again = await page(`/claim?token=${mail.token}`);
    expect(again.status).toBe(410);
    expect(again.html).toContain('Claim link already used');
    const reconfirm = await confirm(mail.token!);
    expect(reconfirm.status).toBe(410);
  });

  it('has clear pages for unknown, missing, expired and already-claimed links', async () => {
    const unknown = await page(`/claim?token=${'Z'.repeat(43)}`);
    expect(unknown.status).toBe(404);
    expect(unknown.html).toContain('Claim link not recognised');
    const missing = await page('/claim');
    expect(missing.status).toBe(400);
    expect(missing.html).toContain('Claim link incomplete');
    const emptyForm = await page('/claim', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: '' });
    expect(emptyForm.status).toBe(400);

    const claimed = await agentFirst();
    const { key } = claimed;
    expect((await api('POST', '/v1/agent/claim/verify', key, { otp: claimed.mail.code })).status).toBe(200);
    const already = await page(`/claim?token=${claimed.mail.token}`);
    expect(already.status).toBe(409);
    expect(already.html).toContain('Already claimed');

    const stale = await agentFirst();
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 8 * 24 * 3600 * 1000);
    const expired = await page(`/claim?token=${stale.mail.token}`);
    expect(expired.status).toBe(410);
    expect(expired.html).toContain('Claim link expired');
    expect((await confirm(stale.mail.token!)).status).toBe(410);
  });

  it('escapes what the agent wrote about itself', async () => {
    const { mail } = await agentFirst({ agent_label: '<script>alert(1)</script>', use_case: '"><img src=x onerror=alert(1)>' });
    const res = await page(`/claim?token=${mail.token}`);
    expect(res.status).toBe(200);
    expect(res.html).not.toContain('<script>alert(1)</script>');
    expect(res.html).not.toContain('<img src=x');
    expect(res.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(mail.html).not.toContain('<script>alert(1)</script>');
  });
});

describe('the dev mailbox outside development', () => {
  it('is an unknown route in the error envelope', async () => {
    const res = await api('GET', '/dev/mailbox');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: expect.any(String), code: 'ROUTE_NOT_FOUND' });
  });
});
