/**
 * A hostile value (what an agent wrote about itself, an address, a link) in the claim page and
 * the onboarding mails is shown as text: no script, image or event handler comes out of it.
 */
import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { claimEmail, codeLockoutEmail, recoveryEmail, verificationEmail } from '../../src/onboarding/mail-templates';
import { BASE } from '../helpers/fixtures';
import { HOSTILE, injected, parseHtml } from '../helpers/html';
import { agentFirst, freshIp } from '../helpers/onboarding';

async function page(path: string, init: RequestInit = {}) {
  const res = await SELF.fetch(`${BASE}${path}`, { ...init, headers: { 'CF-Connecting-IP': freshIp(), ...(init.headers ?? {}) } });
  return { status: res.status, html: await res.text() };
}

it('the reader sees markup written by hand (the control)', async () => {
  expect(injected(await parseHtml(`<p>${HOSTILE}</p>`))).toEqual(['img', 'script', 'img[onerror]']);
});

describe('the claim page with a hostile label and use case', () => {
  it('shows them as text on the preview and on the claimed page', async () => {
    const { mail } = await agentFirst({ agent_label: HOSTILE, use_case: `Does ${HOSTILE}` });
    const preview = await page(`/claim?token=${mail.token}`);
    expect(preview.status).toBe(200);
    const shown = await parseHtml(preview.html);
    expect(injected(shown)).toEqual([]);
    expect(shown.text).toContain(HOSTILE);
    expect(shown.text).toContain(`Does ${HOSTILE}`);
    expect(shown.text).toContain(`Claim ${HOSTILE}`);

    const claimed = await page('/claim', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: mail.token! }).toString(),
    });
    expect(claimed.status).toBe(200);
    const done = await parseHtml(claimed.html);
    expect(injected(done)).toEqual([]);
    expect(done.text).toContain(`${HOSTILE} keeps its key`);
  });
});

describe('the onboarding mails with hostile values', () => {
  const link = `https://x.test/claim?token=${HOSTILE}`;

  it('claim mail: the agent’s name, label, use case and the link are text and attribute values', async () => {
    const m = claimEmail({
      to: 'a@b.co',
      link,
      otp: HOSTILE,
      agentName: HOSTILE,
      agentLabel: '<script>alert(1)</script><img src=x onerror=alert(1)>',
      useCase: "'><svg onload=alert(1)>",
      tokenTtlSeconds: 7 * 86400,
      codeTtlSeconds: 900,
    });
    const shown = await parseHtml(m.html!);
    expect(injected(shown)).toEqual([]);
    expect(shown.elements).not.toContain('svg');
    expect(shown.text).toContain(`An AI agent named ${HOSTILE} signed up`);
    expect(shown.text).toContain('Name it gave: “<script>alert(1)</script><img src=x onerror=alert(1)>”');
    expect(shown.text).toContain("What it says it does: “'><svg onload=alert(1)>”");
    expect(shown.attributes.filter((a) => a.name === 'href').map((a) => a.value)).toEqual([link, link]);
    expect(shown.text).toContain(`Or open: ${link}`);
  });

  it('code and lockout mails: the code and the address are text', async () => {
    for (const m of [verificationEmail('a@b.co', HOSTILE, 900), recoveryEmail('a@b.co', HOSTILE, 900)]) {
      const shown = await parseHtml(m.html!);
      expect(injected(shown)).toEqual([]);
      expect(shown.text).toContain(HOSTILE);
    }
    const lockout = await parseHtml(codeLockoutEmail(HOSTILE, '2030-01-01T00:00:00Z').html!);
    expect(injected(lockout)).toEqual([]);
    expect(lockout.text).toContain(`for the Delega account of ${HOSTILE}.`);
  });
});
