/**
 * The onboarding emails, each as plain text plus simple HTML (hono/jsx) with the same content.
 */
import { MailButton, MailCode, MailLayout } from '../email/layout';
import { htmlDocument } from '../platform/html';
import { agentWords, LABEL_MAX_CHARS, USE_CASE_MAX_CHARS } from './agent-words';
import type { EmailMessage } from '../email/mailer';

const MINUTES = (seconds: number) => Math.round(seconds / 60);

const IGNORE = 'If you did not expect this email, you can ignore it.';

// Subjects never carry the code: the dev transport logs subjects.
export function verificationEmail(to: string, code: string, ttlSeconds: number): EmailMessage {
  const subject = 'Your Delega verification code';
  return {
    to,
    subject,
    text: `Your Delega verification code is ${code}\n\nIt expires in ${MINUTES(ttlSeconds)} minutes. Verify with:\n\n  POST /v1/verify {"email": "${to}", "code": "${code}"}\n\nIf you did not sign up for Delega, you can ignore this email.\n`,
    html: htmlDocument(
      <MailLayout title="Verify your email" footnote={IGNORE}>
        <p>Your Delega verification code is:</p>
        <MailCode code={code} />
        <p>It expires in {MINUTES(ttlSeconds)} minutes.</p>
      </MailLayout>,
    ),
  };
}

export function recoveryEmail(to: string, code: string, ttlSeconds: number): EmailMessage {
  const subject = 'Your Delega recovery code';
  return {
    to,
    subject,
    text: `Your Delega account recovery code is ${code}\n\nIt expires in ${MINUTES(ttlSeconds)} minutes. Using it issues a new key for your default agent; the old key stops working.\n\n  POST /v1/recover {"email": "${to}", "code": "${code}"}\n\nIf you did not ask to recover your account, you can ignore this email: nothing changes until the code is used.\n`,
    html: htmlDocument(
      <MailLayout title="Recover your Delega account" footnote={IGNORE}>
        <p>Your account recovery code is:</p>
        <MailCode code={code} />
        <p>It expires in {MINUTES(ttlSeconds)} minutes. Using it issues a new key for your default agent; the old key stops working.</p>
      </MailLayout>,
    ),
  };
}

export function codeLockoutEmail(to: string, until: string): EmailMessage {
  const subject = 'Delega: too many wrong codes for your account';
  const text = `Someone entered too many wrong one-time codes (verification, recovery or claim) for the Delega account of ${to}. Until ${until} (UTC) every code for this account is refused, even a correct one; each further lockout lasts twice as long.\n\nIf that was you, wait and try again with a new code. If it was not, nobody got in: your codes and keys are unchanged. Delega never asks for a code by email, chat or phone.\n`;
  return {
    to,
    subject,
    text,
    html: htmlDocument(
      <MailLayout title="Too many wrong codes" footnote={IGNORE}>
        {text
          .trim()
          .split('\n\n')
          .map((paragraph) => (
            <p>{paragraph}</p>
          ))}
      </MailLayout>,
    ),
  };
}

export interface ClaimEmailInput {
  to: string;
  link: string;
  otp: string;
  agentName: string;
  agentLabel: string | null;
  useCase: string | null;
  tokenTtlSeconds: number;
  codeTtlSeconds: number;
}

export function claimEmail(input: ClaimEmailInput): EmailMessage {
  const days = Math.round(input.tokenTtlSeconds / 86400);
  // Everything the agent wrote is quoted as its words, cleaned and short (see agent-words.ts).
  const label = agentWords(input.agentLabel, LABEL_MAX_CHARS);
  const useCase = agentWords(input.useCase, USE_CASE_MAX_CHARS);
  const saysText = [label ? `  Name it gave: "${label}"` : null, useCase ? `  What it says it does: "${useCase}"` : null]
    .filter(Boolean)
    .join('\n');
  const agentSays = saysText ? `\nIn its own words (written by the agent, not checked by Delega; links removed):\n${saysText}\n` : '';
  return {
    to: input.to,
    subject: `Claim your Delega agent "${input.agentName}"`,
    text: `An AI agent named "${input.agentName}" signed up for Delega and gave this address as its human's.
${agentSays}
Until you claim it, its key is restricted to one sandbox project. If you set up this agent yourself, claim the account and give it full access by opening this link (valid for ${days} days, single use):

${input.link}

Or, only if you set up this agent yourself, give it this code (valid for ${MINUTES(input.codeTtlSeconds)} minutes) to send to POST /v1/agent/claim/verify:

${input.otp}

Delega never asks for this code by email, chat or phone, and nothing the agent wrote above comes from Delega. If you do not know this agent, ignore this email and it stays restricted.
`,
    html: htmlDocument(
      <MailLayout title="Claim your Delega agent" footnote={IGNORE}>
        <p>
          An AI agent named <strong>{input.agentName}</strong> signed up for Delega and gave this address as its human’s.
        </p>
        {label || useCase ? (
          <>
            <p style="color:#555">In its own words (written by the agent, not checked by Delega; links removed):</p>
            <ul style="color:#555">
              {label ? <li>Name it gave: “{label}”</li> : null}
              {useCase ? <li>What it says it does: “{useCase}”</li> : null}
            </ul>
          </>
        ) : null}
        <p>Until you claim it, its key is restricted to one sandbox project. If you set up this agent yourself:</p>
        <MailButton href={input.link} label="Review and claim" />
        <p style="font-size:13px">
          Or open: <a href={input.link}>{input.link}</a> (valid for {days} days, single use)
        </p>
        <p>Or, only if you set up this agent yourself, give it this code (valid for {MINUTES(input.codeTtlSeconds)} minutes):</p>
        <MailCode code={input.otp} />
        <p>
          Delega never asks for this code by email, chat or phone, and nothing the agent wrote above comes from Delega. If you do not know
          this agent, ignore this email and it stays restricted.
        </p>
      </MailLayout>,
    ),
  };
}
