/**
 * `GET /dev/mailbox`: what the dev mail transport "sent", newest first, optionally `?to=` one
 * recipient. Only when ENVIRONMENT=development; anywhere else it is an unknown route.
 */
import { desc, eq } from 'drizzle-orm';
import { Hono } from 'hono';
import { database } from '../db/client';
import { devMailbox } from '../db/schema';
import type { AppBindings } from '../env';
import { isDevelopment } from '../platform/config';
import { onNotFound } from '../http/error-handler';
import { writtenLimit } from '../db/written-limit';

const MAX_MESSAGES = 100;

/** The links and 6-digit codes in a message, so a curl walk-through needs no parsing. */
function extract(text: string) {
  const links = [...text.matchAll(/https?:\/\/[^\s<>"]+/g)].map((m) => m[0]);
  const prose = links.reduce((rest, link) => rest.replaceAll(link, ' '), text);
  return { links, codes: [...new Set([...prose.matchAll(/\b\d{6}\b/g)].map((m) => m[0]))] };
}

export const devMailboxRoutes = new Hono<AppBindings>().get('/dev/mailbox', async (c) => {
  if (!isDevelopment(c.env)) return onNotFound(c);
  const to = c.req.query('to')?.trim().toLowerCase();
  const requested = Number(c.req.query('limit') ?? MAX_MESSAGES);
  const max = Number.isInteger(requested) && requested > 0 ? Math.min(requested, MAX_MESSAGES) : MAX_MESSAGES;
  const db = database(c.env.DB);
  const rows = await db
    .select()
    .from(devMailbox)
    .where(to ? eq(devMailbox.to, to) : undefined)
    .orderBy(desc(devMailbox.id))
    .limit(writtenLimit(max));
  return c.json(
    {
      messages: rows.map((r) => ({
        id: r.id,
        to: r.to,
        subject: r.subject,
        created_at: r.createdAt,
        text: r.text,
        html: r.html,
        ...extract(r.text),
      })),
    },
    200,
  );
});
