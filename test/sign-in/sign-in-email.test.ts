/** The sign-in mail carries its link as an attribute value and as text, never as markup. */
import { describe, expect, it } from 'vitest';
import { signInEmail } from '../../src/sign-in/sign-in-email';
import { HOSTILE, injected, parseHtml } from '../helpers/html';

describe('the sign-in mail with a hostile link', () => {
  it('shows the link as text and keeps it whole in both hrefs', async () => {
    const link = `https://x.test/app/sign-in/link?token=${HOSTILE}`;
    const m = signInEmail('a@b.co', link);
    const shown = await parseHtml(m.html!);
    expect(injected(shown)).toEqual([]);
    expect(shown.attributes.filter((a) => a.name === 'href').map((a) => a.value)).toEqual([link, link]);
    expect(shown.text).toContain(`Or open: ${link} (valid for 15 minutes, single use)`);
    expect(m.text).toContain(link);
  });
});
