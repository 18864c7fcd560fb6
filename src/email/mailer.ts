/**
 * The one way the service sends email. A transport implements `Mailer`; `mailerFor` picks it
 * from MAIL_TRANSPORT: `dev` (D1 dev mailbox + a console line; the default, refused in
 * production), `cloudflare` (the send_email binding `EMAIL`) or `http` (an HTTP email API at
 * MAIL_API_URL with MAIL_API_KEY).
 *
 *   await mailerFor(env).send({ to, subject, text, html });
 */
import type { Env } from '../env';
import { cloudflareMailer } from './cloudflare';
import { devMailer } from './dev-mailbox';
import { httpMailer } from './http';

export interface EmailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface Mailer {
  send(message: EmailMessage): Promise<void>;
}

export const DEFAULT_FROM = 'Delega <noreply@delega.dev>';
const DEV_ENVIRONMENTS = new Set(['development', 'test']);

export function mailerFor(env: Env): Mailer {
  const transport = (env.MAIL_TRANSPORT ?? 'dev').trim().toLowerCase() || 'dev';
  const from = env.MAIL_FROM || DEFAULT_FROM;
  switch (transport) {
    case 'dev':
      // The dev mailbox holds live codes and links in plain text: local development and tests only.
      if (!DEV_ENVIRONMENTS.has(env.ENVIRONMENT))
        throw new Error(`MAIL_TRANSPORT=dev is only allowed in development and test (ENVIRONMENT is "${env.ENVIRONMENT}")`);
      return devMailer(env.DB);
    case 'cloudflare':
      if (!env.EMAIL) throw new Error('MAIL_TRANSPORT=cloudflare needs the send_email binding EMAIL');
      return cloudflareMailer(env.EMAIL, from);
    case 'http':
      if (!env.MAIL_API_URL || !env.MAIL_API_KEY) throw new Error('MAIL_TRANSPORT=http needs MAIL_API_URL and MAIL_API_KEY');
      return httpMailer({ url: env.MAIL_API_URL, apiKey: env.MAIL_API_KEY, from });
    default:
      throw new Error(`Unknown MAIL_TRANSPORT "${transport}" (use dev, cloudflare or http)`);
  }
}

/** `Name <addr@host>` or a bare address, split for transports that want the parts. */
export function parseAddress(value: string): { name: string; email: string } {
  const match = value.match(/^\s*(.*?)\s*<([^>]+)>\s*$/);
  if (match) return { name: match[1]!.replace(/^"|"$/g, ''), email: match[2]!.trim() };
  return { name: '', email: value.trim() };
}
