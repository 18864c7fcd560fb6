/**
 * Every HTML page and mail of the service is a hono/jsx component, which escapes each value it
 * renders; this is the one place that writes the doctype in front of one.
 * `test/structure/no-hand-built-html.test.ts` refuses HTML written in string literals anywhere else.
 */
import type { HtmlEscapedString } from 'hono/utils/html';

/** What a JSX expression is. */
export type HtmlNode = HtmlEscapedString | Promise<HtmlEscapedString>;

const DOCTYPE = '<!doctype html>\n';

/** The whole document of a page or mail component, as a string (components here are synchronous). */
export function htmlDocument(root: HtmlNode): string {
  const body: unknown = root.toString();
  if (typeof body !== 'string') throw new Error('htmlDocument renders synchronous components only');
  return `${DOCTYPE}${body}`;
}
