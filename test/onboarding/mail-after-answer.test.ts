/**
 * Routes that must not reveal whether an address has an account (resend-verification, the
 * recovery request) send their mail after the answer: the answer for a known address never
 * waits on the mail transport, so its timing matches an unknown address's.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app';
import { anon, freshEmail, freshIp } from '../helpers/onboarding';

/** A send_email binding that holds each message until the test's answer has arrived (or 2 s passed). */
function heldMailbox() {
  let answered!: () => void;
  const answer = new Promise<void>((resolve) => (answered = resolve));
  const sent: { to: string; releasedByAnswer: boolean }[] = [];
  const binding = {
    async send(message: { to: string }) {
      const released = await Promise.race([answer.then(() => true), scheduler.wait(2000).then(() => false)]);
      sent.push({ to: message.to, releasedByAnswer: released });
    },
  };
  return { binding: binding as unknown as SendEmail, sent, answered };
}

async function call(path: string, body: unknown, mailbox: ReturnType<typeof heldMailbox>) {
  const ctx = createExecutionContext();
  const res = await createApp().fetch(
    new Request(`https://api.test${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'CF-Connecting-IP': freshIp() },
      body: JSON.stringify(body),
    }),
    { ...env, MAIL_TRANSPORT: 'cloudflare', EMAIL: mailbox.binding },
    ctx,
  );
  mailbox.answered();
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, text };
}

describe('mail goes out after the answer', () => {
  it('resend-verification: a known address answers before its mail is sent, with the same answer as an unknown one', async () => {
    const email = freshEmail('after');
    expect((await anon('POST', '/v1/signup', { email })).status).toBe(201);
    const known = heldMailbox();
    const knownAnswer = await call('/v1/resend-verification', { email }, known);
    const unknownAnswer = await call('/v1/resend-verification', { email: freshEmail('nobody') }, heldMailbox());
    expect(known.sent).toEqual([{ to: email, releasedByAnswer: true }]);
    expect(knownAnswer).toEqual(unknownAnswer);
  });

  it('recovery request: the same', async () => {
    const email = freshEmail('after-r');
    expect((await anon('POST', '/v1/signup', { email })).status).toBe(201);
    const known = heldMailbox();
    const knownAnswer = await call('/v1/recover', { email }, known);
    const unknownAnswer = await call('/v1/recover', { email: freshEmail('nobody-r') }, heldMailbox());
    expect(known.sent).toEqual([{ to: email, releasedByAnswer: true }]);
    expect(knownAnswer).toEqual(unknownAnswer);
  });
});
