/**
 * Imports point one way: from the entry down through the concepts to the platform. Each folder of
 * src/ has a layer; a file may import its own folder and any lower layer, never a higher one
 * (ARCHITECTURE.md draws it). `src/env.ts` is the bindings' type: any file may import its types.
 */
import { readFileSync, statSync } from 'node:fs';
import { join, posix, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sourceFiles } from './source-files';

const ROOT = resolve(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

/** Lowest first. Folders on one line are peers: they may not import each other. */
export const LAYERS: string[][] = [
  ['platform'],
  ['db'],
  ['email', 'http'],
  ['access'],
  ['webhooks'],
  ['events'],
  ['tasks'],
  ['work-queue', 'accounts'],
  ['sign-in'],
  ['onboarding', 'recurrences', 'recall', 'automations', 'retention'],
  ['decisions', 'ingress'],
  ['dashboard', 'mcp', 'docs'],
  ['<entry>'],
];

/**
 * Imports that run against the layers today, each with why; the list may only shrink (a listed
 * import that is gone fails too, so it is taken off).
 */
const KNOWN_EXCEPTIONS: Record<string, string> = {};

function layerOf(file: string): { rank: number; folder: string } {
  const rel = posix.normalize(relative(SRC, file).split('\\').join('/'));
  const folder = rel.includes('/') ? rel.split('/')[0]! : '<entry>';
  const rank = LAYERS.findIndex((peers) => peers.includes(folder));
  if (rank < 0) throw new Error(`src/${rel}: its folder "${folder}" has no layer in test/structure/architecture.test.ts`);
  return { rank, folder };
}

function resolveImport(from: string, spec: string): string | null {
  const base = resolve(from, '..', spec);
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, join(base, 'index.ts')]) {
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {}
  }
  return null;
}

/** Every relative import of src/, with whether it only brings types. */
function imports(): { from: string; to: string; typeOnly: boolean }[] {
  const found: { from: string; to: string; typeOnly: boolean }[] = [];
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+['"](\.{1,2}\/[^'"]+)['"]/gm)) {
      const to = resolveImport(file, m[3]!);
      if (to) found.push({ from: file, to, typeOnly: Boolean(m[2]) });
    }
  }
  return found;
}

const rel = (p: string) => relative(ROOT, p).split('\\').join('/');

describe('the direction of imports', () => {
  const all = imports();

  it('finds the imports it checks (the control)', () => {
    expect(all.length).toBeGreaterThan(100);
    expect(all.some((i) => rel(i.from) === 'src/app.ts')).toBe(true);
  });

  it('no file imports a higher layer or a peer folder', () => {
    const against: string[] = [];
    for (const { from, to, typeOnly } of all) {
      if (rel(to) === 'src/env.ts' && typeOnly) continue;
      if (rel(from) === 'src/env.ts' && typeOnly) continue;
      const a = layerOf(from);
      const b = layerOf(to);
      if (a.folder === b.folder) continue;
      if (b.rank < a.rank) continue;
      against.push(`${rel(from)} -> ${rel(to)}`);
    }
    const unexplained = against.filter((edge) => !(edge in KNOWN_EXCEPTIONS));
    expect(unexplained, 'imports against the layers (see ARCHITECTURE.md)').toEqual([]);
    const gone = Object.keys(KNOWN_EXCEPTIONS).filter((edge) => !against.includes(edge));
    expect(gone, 'listed exceptions that no longer exist: take them off the list').toEqual([]);
  });

  it('would notice an import against the layers (the control)', () => {
    expect(layerOf(join(SRC, 'platform/x.ts')).rank).toBeLessThan(layerOf(join(SRC, 'tasks/x.ts')).rank);
    expect(() => layerOf(join(SRC, 'no-such-folder/x.ts'))).toThrow(/has no layer/);
  });
});
