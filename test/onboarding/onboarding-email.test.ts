import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app';
import { users } from '../../src/db/schema';
import { cloudflareMailer } from '../../src/email/cloudflare';
import { httpMailer } from '../../src/email/http';
import { mailerFor, parseAddress } from '../../src/email/mailer';
import { claimEmail, recoveryEmail, verificationEmail } from '../../src/onboarding/mail-templates';
import { db } from '../helpers/fixtures';
import { freshEmail, freshIp, latestMail } from '../helpers/onboarding';

const message = { to: 'ada@example.com', subject: 'Hello', text: 'code 123456', html: '<p>code 123456</p>' };

describe('mailer selection', () => {
  it('defaults to the dev mailbox, which stores the whole message in D1', async () => {
    const to = freshEmail('dev');
    await mailerFor({ ...env, MAIL_TRANSPORT: undefined }).send({ ...message, to });
    const row = await latestMail(to);
    expect(row).toMatchObject({ subject: 'Hello', text: 'code 123456', html: '<p>code 123456</p>' });
  });

  it('refuses the dev mailbox in production, and half-configured transports', () => {
    expect(() => mailerFor({ ...env, ENVIRONMENT: 'production', MAIL_TRANSPORT: 'dev' })).toThrow(/only allowed in development and test/);
    expect(() => mailerFor({ ...env, ENVIRONMENT: 'staging', MAIL_TRANSPORT: undefined })).toThrow(/only allowed in development and test/);
    expect(() => mailerFor({ ...env, MAIL_TRANSPORT: 'cloudflare', EMAIL: undefined })).toThrow(/EMAIL/);
    expect(() => mailerFor({ ...env, MAIL_TRANSPORT: 'http', MAIL_API_URL: 'https://mail.example', MAIL_API_KEY: undefined })).toThrow(
      /MAIL_API_KEY/,
    );
    expect(() => mailerFor({ ...env, MAIL_TRANSPORT: 'pigeon' })).toThrow(/Unknown MAIL_TRANSPORT/);
  });

  it('splits "Name <address>" senders', () => {
    expect(parseAddress('Delega <noreply@delega.dev>')).toEqual({ name: 'Delega', email: 'noreply@delega.dev' });
    expect(parseAddress('noreply@delega.dev')).toEqual({ name: '', email: 'noreply@delega.dev' });
  });
});

describe('production transports', () => {
  it('HTTP API: posts the message as JSON with the bearer key, and fails on non-2xx', async () => {
    const seen: { url: string; init: RequestInit }[] = [];
    const ok = httpMailer({
      url: 'https://mail.example/emails',
      apiKey: 'sk_test',
      from: 'Delega <noreply@delega.dev>',
      fetcher: async (url, init) => {
        seen.push({ url: String(url), init: init! });
        return new Response('{"id":"m1"}', { status: 200 });
      },
    });
    await ok.send(message);
    expect(seen[0]!.url).toBe('https://mail.example/emails');
    expect((seen[0]!.init.headers as Record<string, string>).Authorization).toBe('Bearer sk_test');
    expect(JSON.parse(seen[0]!.init.body as string)).toEqual({
      from: 'Delega <noreply@delega.dev>',
      to: ['ada@example.com'],
      subject: 'Hello',
      text: 'code 123456',
      html: '<p>code 123456</p>',
    });

    const failing = httpMailer({
      url: 'https://mail.example/emails',
      apiKey: 'sk_test',
      from: 'x@y.z',
      fetcher: async () => new Response('code 123456 rejected', { status: 422 }),
    });
    await expect(failing.send(message)).rejects.toThrow('Email API answered 422');
    // The provider's body (which may echo the code) is not in the error.
    await expect(failing.send(message)).rejects.not.toThrow(/123456/);
  });

  it('Cloudflare send_email: hands the binding a composed message', async () => {
    const sent: unknown[] = [];
    const binding = { send: async (m: unknown) => (sent.push(m), { messageId: 'x' }) } as unknown as SendEmail;
    await cloudflareMailer(binding, 'Delega <noreply@delega.dev>').send(message);
    expect(sent).toEqual([
      {
        from: { name: 'Delega', email: 'noreply@delega.dev' },
        to: 'ada@example.com',
        subject: 'Hello',
        text: 'code 123456',
        html: '<p>code 123456</p>',
      },
    ]);
  });
});

describe('templates', () => {
  it('carry the code in text and HTML, never in the subject', () => {
    for (const m of [verificationEmail('a@b.co', '987654', 900), recoveryEmail('a@b.co', '987654', 900)]) {
      expect(m.text).toContain('987654');
      expect(m.html).toContain('987654');
      expect(m.subject).not.toContain('987654');
      expect(m.text).toContain('15 minutes');
    }
  });

  it('claim email: link and OTP in both parts, escaped in HTML', () => {
    const m = claimEmail({
      to: 'a@b.co',
      link: 'https://x.test/claim?token=abc&x=1',
      otp: '135790',
      agentName: 'bot',
      agentLabel: '<b>Bot</b>',
      useCase: null,
      tokenTtlSeconds: 7 * 86400,
      codeTtlSeconds: 900,
    });
    expect(m.text).toContain('https://x.test/claim?token=abc&x=1');
    expect(m.text).toContain('135790');
    expect(m.text).toContain('7 days');
    expect(m.html).toContain('href="https://x.test/claim?token=abc&amp;x=1"');
    expect(m.html).toContain('&lt;b&gt;Bot&lt;/b&gt;');
    expect(m.subject).not.toContain('135790');
  });
});

describe('configuration seen through the app', () => {
  const app = createApp();
  // Mail some routes send after their answer is awaited with the execution context.
  const post = async (path: string, body: unknown, overrides: Partial<typeof env>) => {
    const ctx = createExecutionContext();
    const res = await app.request(
      path,
      { method: 'POST', headers: { 'Content-Type': 'application/json', 'CF-Connecting-IP': freshIp() }, body: JSON.stringify(body) },
      { ...env, ...overrides },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    return res;
  };

  it('answers 503 before creating anything when email is not configured; code checks still work', async () => {
    const email = freshEmail('nomail');
    const res = await post('/v1/signup', { email }, { MAIL_TRANSPORT: 'http', MAIL_API_URL: undefined });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: expect.stringContaining('Email is not configured'), code: 'EMAIL_NOT_CONFIGURED' });
    expect(await db().select().from(users).where(eq(users.email, email)).get()).toBeUndefined();
    const agent = await post(
      '/v1/agent/signup',
      { human_email: email, agent_name: 'no-mail' },
      { MAIL_TRANSPORT: 'cloudflare', EMAIL: undefined },
    );
    expect(agent.status).toBe(503);

    const verify = await post('/v1/verify', { email, code: '123456' }, { MAIL_TRANSPORT: 'http', MAIL_API_URL: undefined });
    expect(verify.status).toBe(400);
  });

  it('serves the dev mailbox in development: newest first, filtered by recipient', async () => {
    const dev = { ENVIRONMENT: 'development' };
    const to = freshEmail('box');
    const signup = await post('/v1/signup', { email: to }, dev);
    expect(signup.status).toBe(201);
    expect((await post('/v1/resend-verification', { email: to }, dev)).status).toBe(200);
    const res = await app.request(`/dev/mailbox?to=${encodeURIComponent(to.toUpperCase())}`, {}, { ...env, ...dev });
    expect(res.status).toBe(200);
    const { messages } = (await res.json()) as { messages: { id: string; to: string; codes: string[]; links: string[]; text: string }[] };
    expect(messages).toHaveLength(2);
    expect(messages.every((m) => m.to === to)).toBe(true);
    expect(messages[0]!.id > messages[1]!.id).toBe(true);
    expect(messages[0]!.codes).toEqual([expect.stringMatching(/^\d{6}$/)]);
    expect(messages[0]!.text).toContain(messages[0]!.codes[0]!);

    const limited = await app.request('/dev/mailbox?limit=1', {}, { ...env, ...dev });
    expect(((await limited.json()) as { messages: unknown[] }).messages).toHaveLength(1);
  });
});
