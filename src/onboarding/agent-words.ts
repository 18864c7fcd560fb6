/**
 * Text an unauthenticated agent supplied (its label, its use case) as it may appear in an email
 * from the service: one short line, no control or invisible characters, no links or bare
 * domains, so it cannot pose as the service's own instructions or carry a phishing link.
 */
const CONTROL_OR_INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+/gu;
// Schemes, www., e-mail addresses and bare domains (word.word, optionally with a path).
const LINK = /\b(?:[a-z][a-z0-9+.-]*:\/\/\S*|www\.\S*|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|(?:[\p{L}\p{N}-]+\.)+[\p{L}]{2,}(?:[/:?#]\S*)?)/giu;

export const LABEL_MAX_CHARS = 60;
export const USE_CASE_MAX_CHARS = 200;

export function agentWords(text: string | null, maxChars: number): string | null {
  if (!text) return null;
  const clean = text
    .replace(CONTROL_OR_INVISIBLE, ' ')
    .replace(LINK, '[link removed]')
    // Quotes of our own frame the words; theirs cannot close them.
    .replace(/["“”«»]/g, "'")
    .replace(/\s+/g, ' ')
    .trim();
  if (clean === '') return null;
  const chars = [...clean];
  return chars.length <= maxChars
    ? clean
    : `${chars
        .slice(0, maxChars - 1)
        .join('')
        .trimEnd()}…`;
}
