/**
 * Error codes are one typed list (ERROR_CODES in platform/errors.ts): the compiler holds every
 * code the source throws to it; this holds the list to the source, so no code is listed (and
 * documented in the OpenAPI Error schema) that nothing answers.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sourceFiles } from './source-files';
import { ERROR_CODES } from '../../src/platform/errors';

const SRC = resolve(import.meta.dirname, '../../src');
const source = sourceFiles(SRC)
  .filter((f) => !f.endsWith(join('platform', 'errors.ts')))
  .map((f) => readFileSync(f, 'utf8'))
  .join('\n');

/** `notFound('task')` answers TASK_NOT_FOUND. */
const notFoundCodes = new Set([...source.matchAll(/notFound\('([a-z]+)'\)/g)].map((m) => `${m[1]!.toUpperCase()}_NOT_FOUND`));
const quoted = new Set([...source.matchAll(/'([A-Z][A-Z0-9_]{2,})'/g)].map((m) => m[1]!));

describe('error codes', () => {
  it('every listed code is answered somewhere in src', () => {
    const unused = ERROR_CODES.filter((code) => !quoted.has(code) && !notFoundCodes.has(code));
    expect(unused).toEqual([]);
  });

  it('the list has no duplicates', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  });
});
