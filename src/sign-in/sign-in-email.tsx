/** The sign-in mail: the single-use link, as a button and as text. */
import { MailButton, MailLayout } from '../email/layout';
import type { EmailMessage } from '../email/mailer';
import { htmlDocument } from '../platform/html';

export const SIGN_IN_TTL_SECONDS = 15 * 60;

export function signInEmail(to: string, link: string): EmailMessage {
  return {
    to,
    subject: 'Sign in to Delega',
    text: `Open this link to sign in to Delega (valid for ${SIGN_IN_TTL_SECONDS / 60} minutes, single use):\n\n${link}\n\nIf you did not ask to sign in, ignore this email: nothing happens unless the link is used.\n`,
    html: htmlDocument(
      <MailLayout title="Sign in to Delega" footnote="If you did not ask to sign in, ignore this email.">
        <MailButton href={link} label="Sign in" />
        <p style="font-size:13px">
          Or open: <a href={link}>{link}</a> (valid for {SIGN_IN_TTL_SECONDS / 60} minutes, single use)
        </p>
      </MailLayout>,
    ),
  };
}
