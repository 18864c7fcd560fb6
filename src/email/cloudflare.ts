/** Production transport: Cloudflare's send_email binding (Email Service). */
import type { Mailer } from './mailer';
import { parseAddress } from './mailer';

export function cloudflareMailer(binding: SendEmail, from: string): Mailer {
  const sender = parseAddress(from);
  return {
    async send(message) {
      await binding.send({
        from: sender.name ? sender : sender.email,
        to: message.to,
        subject: message.subject,
        text: message.text,
        html: message.html,
      });
    },
  };
}
