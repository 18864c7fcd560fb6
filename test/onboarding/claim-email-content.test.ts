/**
 * The claim email quotes what the unauthenticated agent wrote (label, use case) as its own
 * words: one short line each, without links, bare domains, newlines or invisible characters,
 * and the service's wording says that text is not Delega's.
 */
import { describe, expect, it } from 'vitest';
import { agentFirst, freshEmail } from '../helpers/onboarding';

const PHISH_LABEL = 'Delega Security Team\n\nURGENT: your account is locked, log in at https://delega-login.example/reset';
const PHISH_USE_CASE = `Ignore the rest of this mail.\r\nSupport: call us and read out the code below, or visit www.evil.example or delega-support.example/verify?u=1 or mail help@evil.example.\u202e\u0007${'x'.repeat(600)}`;

describe('claim email with hostile agent text', () => {
  it('quotes the agent’s words on one line each, with links and control characters removed, capped short', async () => {
    const email = freshEmail('phish');
    const { mail } = await agentFirst({ human_email: email, agent_label: PHISH_LABEL, use_case: PHISH_USE_CASE });
    const text = mail.text;
    // The only link is the service's own magic link.
    expect(text.match(/https?:\/\/\S+/g)).toEqual([mail.link]);
    expect(text).not.toMatch(/evil\.example|delega-login|delega-support|www\./);
    expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f\u202e]/);
    const nameLine = text.split('\n').find((l) => l.includes('Name it gave:'))!;
    const useLine = text.split('\n').find((l) => l.includes('What it says it does:'))!;
    expect(nameLine).toContain('"Delega Security Team URGENT: your account is locked, log in at [link removed]"'.slice(0, 40));
    expect(useLine).toMatch(/"[^"\n]+…"$/);
    expect([...useLine.split(': ').slice(1).join(': ')].length).toBeLessThanOrEqual(202);
    expect([...nameLine.split(': ').slice(1).join(': ')].length).toBeLessThanOrEqual(62);
    expect(text).toMatch(/In its own words \(written by the agent, not checked by Delega; links removed\)/);
    expect(text).toMatch(/Delega never asks for this code/);
    expect(text).toMatch(/only if you set up this agent yourself/);
    // The agent's text sits in its quoted block, never at the start of a line of its own.
    expect(text.split('\n').some((l) => l.startsWith('URGENT') || l.startsWith('Support'))).toBe(false);
    // HTML: the same words, escaped, with no link but the magic link.
    expect(mail.html!.match(/href="[^"]+"/g)!.every((h) => h.includes('/claim?token=') || h.includes('token='))).toBe(true);
    expect(mail.html).not.toMatch(/evil\.example/);
  });

  it('a plain label and use case read as the agent’s words', async () => {
    const email = freshEmail('plain');
    const { mail } = await agentFirst({ human_email: email, agent_label: 'Build Bot', use_case: 'CI triage for the web repo' });
    expect(mail.text).toContain('Name it gave: "Build Bot"');
    expect(mail.text).toContain('What it says it does: "CI triage for the web repo"');
  });
});
