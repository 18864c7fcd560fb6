/** Query-string schemas shaped by what the public clients send. */
import { z } from '@hono/zod-openapi';

/** `true/false` in any case and `1/0` (the Python SDK sends `False`). */
export const queryBoolean = z
  .string()
  .regex(/^(true|false|1|0)$/i, 'Expected true or false')
  .transform((v) => v.toLowerCase() === 'true' || v === '1')
  .openapi({ type: 'string', enum: ['true', 'false'], example: 'false' });

/** A list given as `a,b` or repeated (`x=a&x=b`, as Python's urlencode sends lists). */
export const queryList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) =>
    (Array.isArray(v) ? v : [v])
      .flatMap((s) => s.split(','))
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  )
  .openapi({ type: 'string', example: 'bug,urgent' });

/** A single value; a repeated parameter takes the last one given. */
export const querySingle = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v[v.length - 1]! : v));

export const queryInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^-?\d+$/, 'Expected an integer')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .openapi({ type: 'integer', minimum: min, maximum: max });

export const paginationQuery = {
  limit: queryInt(1, 500).optional().openapi({ type: 'integer', minimum: 1, maximum: 500, default: 100 }),
  offset: queryInt(0, 1_000_000).optional().openapi({ type: 'integer', minimum: 0, default: 0 }),
};
