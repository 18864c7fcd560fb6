/** The decision mail shows what an agent wrote (task, question, options) as text, whatever it holds. */
import { describe, expect, it } from 'vitest';
import { decisionEmail } from '../../src/work-queue/decision-email';
import { HOSTILE, injected, parseHtml } from '../helpers/html';

describe('the decision mail with hostile values', () => {
  it('puts the task, the question, the options and the link in as text and attribute values', async () => {
    const link = `https://x.test/answer?token=${HOSTILE}`;
    const m = decisionEmail({
      to: 'a@b.co',
      task: `Task ${HOSTILE}`,
      decision: { question: `Question ${HOSTILE}`, options: [`yes ${HOSTILE}`, 'no'] },
      detail: null,
      link,
      ttlHours: 72,
    });
    const shown = await parseHtml(m.html!);
    expect(injected(shown)).toEqual([]);
    expect(shown.text).toContain(`An agent working on Task ${HOSTILE} is waiting for your decision.`);
    expect(shown.text).toContain(`Question ${HOSTILE}`);
    expect(shown.text).toContain(`yes ${HOSTILE}`);
    expect(shown.attributes.filter((a) => a.name === 'href').map((a) => a.value)).toEqual([link]);
  });

  it('the detail stands in for a missing question, as text', async () => {
    const m = decisionEmail({
      to: 'a@b.co',
      task: 't',
      decision: { question: null, options: [] },
      detail: HOSTILE,
      link: 'https://x.test/a',
      ttlHours: 1,
    });
    const shown = await parseHtml(m.html!);
    expect(injected(shown)).toEqual([]);
    expect(shown.elements).not.toContain('ul');
    expect(shown.text).toContain(HOSTILE);
  });
});
