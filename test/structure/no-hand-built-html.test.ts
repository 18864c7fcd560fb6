/**
 * HTML is written as hono/jsx (which escapes every value), never by hand: no string or template
 * literal in src/ holds an HTML tag, save the doctype in src/platform/html.ts, and raw HTML goes
 * in only as a named constant (never through hono's raw()). One forgotten escape is an XSS.
 */
import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { sourceFiles } from './source-files';

const ROOT = resolve(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

/**
 * Markup: a closing tag of an HTML element (`</p>`), an element's tag with an attribute (`<a href=`),
 * a doctype or a comment. Placeholders in prose (`<unix seconds>`, `'<t>.<body>'`) are not markup.
 */
const ELEMENTS =
  'html|head|body|meta|title|style|script|link|base|main|header|footer|nav|section|article|aside|h[1-6]|p|a|div|span|strong|em|b|i|u|small|code|pre|kbd|q|blockquote|br|hr|img|svg|iframe|object|embed|ul|ol|li|dl|dt|dd|table|thead|tbody|tfoot|tr|th|td|form|input|button|label|select|option|textarea|fieldset|legend|details|summary|time';
const TAG = new RegExp(`</(${ELEMENTS})\\s*>|<(${ELEMENTS})\\s+[a-z-]+(=|\\s|/?>)|<!doctype|<!--`, 'i');

/** The one literal allowed to hold markup, and where. */
const ALLOWED = new Map([['src/platform/html.ts', ["'<!doctype html>\\n'"]]]);

interface Literal {
  file: string;
  line: number;
  text: string;
}

/** Every string and template literal of a file (template pieces one by one), as written. */
function literals(file: string): Literal[] {
  const text = readFileSync(file, 'utf8');
  const kind = file.endsWith('.tsx') ? ts.ScriptKind.TSX : file.endsWith('.js') ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, kind);
  const found: Literal[] = [];
  const visit = (node: ts.Node) => {
    if (
      ts.isStringLiteral(node) ||
      ts.isNoSubstitutionTemplateLiteral(node) ||
      ts.isTemplateHead(node) ||
      ts.isTemplateMiddle(node) ||
      ts.isTemplateTail(node)
    ) {
      found.push({
        file: relative(ROOT, file).split('\\').join('/'),
        line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1,
        text: node.getText(),
      });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('HTML is built by components, not by hand', () => {
  const files = sourceFiles(SRC, /\.(tsx?|js)$/);
  const all = files.flatMap(literals);

  it('reads the literals it checks (the control)', () => {
    expect(all.length).toBeGreaterThan(1000);
    // The check itself sees markup when it is there.
    expect(TAG.test('`<p>${name}</p>`')).toBe(true);
    expect(TAG.test("'<a href=\"'")).toBe(true);
    expect(TAG.test("'<!DOCTYPE html>'")).toBe(true);
    expect(TAG.test("'Delega <noreply@delega.dev>'")).toBe(false);
    expect(TAG.test("'a < b'")).toBe(false);
    expect(TAG.test("'t=<unix seconds>,v1=<hex>'")).toBe(false);
    expect(TAG.test('"\'<t>.<body>\'"')).toBe(false);
    expect(TAG.test('`<input type="hidden" value="${token}">`')).toBe(true);
  });

  it('finds no string or template literal holding an HTML tag outside the doctype helper', () => {
    const handBuilt = all.filter((l) => TAG.test(l.text) && !ALLOWED.get(l.file)?.includes(l.text));
    expect(handBuilt.map((l) => `${l.file}:${l.line} ${l.text.slice(0, 80)}`)).toEqual([]);
  });

  it('has no hand escaper and no raw HTML but named constants', () => {
    const offenders: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      const rel = relative(ROOT, file);
      if (/escapeHtml/.test(text)) offenders.push(`${rel}: a hand escaper`);
      // hono/html's tagged `html` escapes what it interpolates; its raw() does not.
      if (/import\s*\{[^}]*\braw\b[^}]*\}\s*from\s*'hono\/(html|utils\/html)'/.test(text)) offenders.push(`${rel}: raw() from hono`);
      for (const m of text.matchAll(/dangerouslySetInnerHTML=\{\{\s*__html:\s*([^}]*?)\s*\}\}/g)) {
        if (!/^[A-Z][A-Z0-9_]*$/.test(m[1]!)) offenders.push(`${rel}: dangerouslySetInnerHTML with ${m[1]}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
