/**
 * Reads rendered HTML as a browser would (workerd's HTMLRewriter): the elements it makes, their
 * attributes and the text a human sees, so a test can say a hostile value is shown as text.
 */

/** A value that is markup if anything writes it unescaped, in text or in a quoted attribute. */
export const HOSTILE = `Eve"><img src=x onerror=alert(1)><script>alert(1)</script>'`;

export interface ParsedHtml {
  /** Tag names, in document order. */
  elements: string[];
  /** Attribute values entities decoded (HTMLRewriter gives them as written). */
  attributes: { element: string; name: string; value: string }[];
  /** The text content, entities decoded. */
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'", apos: "'" };
const decode = (s: string) => s.replace(/&(amp|lt|gt|quot|#39|#x27|apos);/g, (_, e: string) => ENTITIES[e]!);

export async function parseHtml(html: string): Promise<ParsedHtml> {
  const parsed: ParsedHtml = { elements: [], attributes: [], text: '' };
  let raw = '';
  await new HTMLRewriter()
    .on('*', {
      element(e) {
        parsed.elements.push(e.tagName);
        for (const [name, value] of e.attributes)
          parsed.attributes.push({ element: e.tagName, name: name ?? '', value: decode(value ?? '') });
      },
      text(t) {
        raw += t.text;
      },
    })
    .transform(new Response(html))
    .text();
  parsed.text = decode(raw);
  return parsed;
}

/** What no escaped page or mail may contain: a script, an injected image, an event handler attribute. */
export function injected(parsed: ParsedHtml): string[] {
  return [
    ...parsed.elements.filter((e) => e === 'script' || e === 'img'),
    ...parsed.attributes.filter((a) => a.name.startsWith('on')).map((a) => `${a.element}[${a.name}]`),
  ];
}
