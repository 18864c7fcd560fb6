/** Zod schemas shared by several resources. */
import { z } from '@hono/zod-openapi';

export const ROLE = z.enum(['worker', 'coordinator', 'admin']);

/** Agent slug: 3-32 characters of `[a-z0-9_-]`. */
export const agentSlug = z
  .string()
  .regex(/^[a-z0-9_-]{3,32}$/, 'Must be 3-32 characters of lowercase letters, digits, "_" or "-"')
  .openapi({ example: 'deploy-bot' });

export const shortText = (max: number) => z.string().max(max, `At most ${max} characters`);

export const email = z
  .email('Must be an email address')
  .max(254)
  .transform((v) => v.toLowerCase())
  .openapi({ example: 'ada@example.com' });

export const timestamp = z.string().openapi({ format: 'date-time', example: '2026-01-15T10:30:00Z' });
