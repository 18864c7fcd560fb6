/**
 * Development transport: the message goes to the D1 `dev_mailbox` table (readable at
 * `GET /dev/mailbox` when ENVIRONMENT=development) and one console line that names the recipient
 * and subject only, so codes and links never reach the logs.
 */
import { database } from '../db/client';
import { devMailbox } from '../db/schema';
import { newId } from '../platform/ids';
import { isoSeconds } from '../platform/time';
import type { Mailer } from './mailer';

export function devMailer(d1: D1Database, clock: () => number = Date.now): Mailer {
  return {
    async send(message) {
      const now = clock();
      const id = newId('msg', now);
      await database(d1)
        .insert(devMailbox)
        .values({
          id,
          to: message.to.toLowerCase(),
          subject: message.subject,
          text: message.text,
          html: message.html,
          createdAt: isoSeconds(now),
        });
      console.log(
        JSON.stringify({ level: 'info', event: 'dev_mail', id, to: message.to, subject: message.subject, read_at: '/dev/mailbox' }),
      );
    },
  };
}
