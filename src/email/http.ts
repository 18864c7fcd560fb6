/**
 * Production transport: an HTTP email API that takes `POST {from, to, subject, text, html}` with
 * a bearer key (the shape Resend and similar services accept). MAIL_API_URL is the full endpoint.
 */
import type { Mailer } from './mailer';

const TIMEOUT_MS = 10_000;

export interface HttpMailerOptions {
  /** The provider's send endpoint. */
  url: string;
  apiKey: string;
  /** The sender address. */
  from: string;
  /** Replaced in tests. */
  fetcher?: typeof fetch;
}

export function httpMailer({ url, apiKey, from, fetcher = fetch }: HttpMailerOptions): Mailer {
  return {
    async send(message) {
      const res = await fetcher(url, {
        method: 'POST',
        headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ from, to: [message.to], subject: message.subject, text: message.text, html: message.html }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      // The provider's body may echo the message; only the status is worth logging.
      if (!res.ok) throw new Error(`Email API answered ${res.status}`);
      await res.body?.cancel();
    },
  };
}
