/**
 * The README's curl walk-through against a real `wrangler dev`: an agent signs itself up, the
 * claim email is read from the dev mailbox, the human claims, and the same key turns full.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, startDevServer, type DevServer } from './harness';

let server: DevServer;
beforeAll(async () => {
  server = await startDevServer();
});
afterAll(async () => {
  await server?.stop();
});

interface MailboxMessage {
  id: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  created_at: string;
  links: string[];
  codes: string[];
}

const email = (tag: string) => `${tag}-${Date.now().toString(36)}@example.com`;

async function mailbox(to?: string) {
  const res = await http<{ messages: MailboxMessage[] }>(server.baseUrl, 'GET', `/dev/mailbox${to ? `?to=${encodeURIComponent(to)}` : ''}`);
  expect(res.status).toBe(200);
  return res.body.messages;
}

describe('README walk-through over HTTP', () => {
  it('agent signup -> claim email in the dev mailbox -> claim -> the same key is full', async () => {
    const base = server.baseUrl;
    const human = email('ada');

    // 1. The agent signs itself up.
    const signup = await http(base, 'POST', '/v1/agent/signup', {
      body: { human_email: human, agent_name: 'build-bot', use_case: 'CI triage' },
    });
    expect(signup.status).toBe(201);
    expect(signup.body).toMatchObject({
      mode: 'restricted',
      api_key: expect.stringMatching(/^dlg_/),
      sandbox_project: { is_sandbox: true },
    });
    const key = signup.body.api_key as string;

    const before = await http(base, 'GET', '/v1/agent/me', { key });
    expect(before.body).toMatchObject({
      mode: 'restricted',
      account: { status: 'restricted' },
      sandbox_project: { id: signup.body.sandbox_project.id },
    });
    const capsBefore = await http(base, 'GET', '/v1/capabilities', { key });
    expect(capsBefore.body.mode).toBe('restricted');
    const refused = await http(base, 'GET', '/v1/agents', { key });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('CLAIM_REQUIRED');

    // 2. The human reads the claim email in the dev mailbox.
    const [mail] = await mailbox(human);
    expect(mail).toBeDefined();
    expect(mail!.to).toBe(human);
    expect(mail!.subject).toContain('build-bot');
    expect(mail!.text).toContain('CI triage');
    // In development the link points at the server that sent it.
    const link = new URL(mail!.links[0]!);
    expect(link.origin).toBe(base);
    expect(link.pathname).toBe('/claim');
    const token = link.searchParams.get('token')!;
    expect(mail!.codes).toHaveLength(1);
    // Secrets reach the mailbox, never the API answer or the server log.
    expect(JSON.stringify(signup.body)).not.toContain(token);
    expect(server.logs()).not.toContain(token);
    expect(server.logs()).not.toContain(mail!.codes[0]!);

    const preview = await http(base, 'POST', '/v1/claim/preview', { body: { token } });
    expect(preview.status).toBe(200);
    expect(preview.body.agent).toMatchObject({ name: 'build-bot', use_case: 'CI triage' });

    const claimed = await http(base, 'POST', '/v1/claim/complete', { body: { token } });
    expect(claimed.status).toBe(200);
    expect(claimed.body).toMatchObject({ claimed: true, mode: 'admin' });

    // 3. The same key now has full rights.
    const after = await http(base, 'GET', '/v1/agent/me', { key });
    expect(after.body).toMatchObject({
      mode: 'admin',
      account: { status: 'active' },
      sandbox_project: { id: signup.body.sandbox_project.id },
    });
    const capsAfter = await http(base, 'GET', '/v1/capabilities', { key });
    expect(capsAfter.body.mode).toBe('admin');
    expect(capsAfter.body.operations['agents.list'].allowed).toBe(true);
    expect((await http(base, 'GET', '/v1/agents', { key })).status).toBe(200);
  });

  it('human signup -> verification code from the dev mailbox -> verified', async () => {
    const base = server.baseUrl;
    const human = email('grace');
    const signup = await http(base, 'POST', '/v1/signup', { body: { email: human, name: 'Grace' } });
    expect(signup.status).toBe(201);
    expect(signup.body.agent.api_key).toBe(signup.body.api_key);
    const [mail] = await mailbox(human);
    const verified = await http(base, 'POST', '/v1/verify', { body: { email: human, code: mail!.codes[0] } });
    expect(verified.status).toBe(200);
    expect(verified.body).toEqual({ verified: true, email: human });
    expect((await http(base, 'GET', '/v1/agent/me', { key: signup.body.api_key })).body.mode).toBe('admin');
  });

  it('the dev mailbox lists newest first and filters by recipient', async () => {
    const base = server.baseUrl;
    const human = email('linus');
    await http(base, 'POST', '/v1/signup', { body: { email: human } });
    await http(base, 'POST', '/v1/resend-verification', { body: { email: human } });
    // The resent code goes out after the answer (so known addresses answer as fast as unknown ones).
    let mine = await mailbox(human);
    for (let i = 0; mine.length < 2 && i < 100; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      mine = await mailbox(human);
    }
    expect(mine).toHaveLength(2);
    expect(mine.every((m) => m.to === human)).toBe(true);
    expect(mine[0]!.id > mine[1]!.id).toBe(true);
    const all = await mailbox();
    expect(all.length).toBeGreaterThan(mine.length);
    const none = await mailbox('nobody@example.com');
    expect(none).toEqual([]);
  });
});
