/**
 * The onboarding emails, each as plain text plus simple HTML with the same content.
 * Every value that came from a user is escaped in the HTML.
 */
import { escapeHtml } from '../email/html';
import { agentWords, LABEL_MAX_CHARS, USE_CASE_MAX_CHARS } from './agent-words';
import type { EmailMessage } from '../email/mailer';

const MINUTES = (seconds: number) => Math.round(seconds / 60);

function layout(title: string, bodyHtml: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body style="font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;line-height:1.5;color:#111;max-width:560px;margin:0 auto;padding:24px">
<h1 style="font-size:20px">${escapeHtml(title)}</h1>
${bodyHtml}
<p style="color:#555;font-size:13px">If you did not expect this email, you can ignore it.</p>
</body></html>`;
}

const codeBlock = (code: string) =>
  `<p style="font-size:28px;font-weight:bold;letter-spacing:6px;font-family:ui-monospace,monospace">${escapeHtml(code)}</p>`;

// Subjects never carry the code: the dev transport logs subjects.
export function verificationEmail(to: string, code: string, ttlSeconds: number): EmailMessage {
  const subject = 'Your Delega verification code';
  return {
    to,
    subject,
    text: `Your Delega verification code is ${code}\n\nIt expires in ${MINUTES(ttlSeconds)} minutes. Verify with:\n\n  POST /v1/verify {"email": "${to}", "code": "${code}"}\n\nIf you did not sign up for Delega, you can ignore this email.\n`,
    html: layout(
      'Verify your email',
      `<p>Your Delega verification code is:</p>${codeBlock(code)}<p>It expires in ${MINUTES(ttlSeconds)} minutes.</p>`,
    ),
  };
}

export function recoveryEmail(to: string, code: string, ttlSeconds: number): EmailMessage {
  const subject = 'Your Delega recovery code';
  return {
    to,
    subject,
    text: `Your Delega account recovery code is ${code}\n\nIt expires in ${MINUTES(ttlSeconds)} minutes. Using it issues a new key for your default agent; the old key stops working.\n\n  POST /v1/recover {"email": "${to}", "code": "${code}"}\n\nIf you did not ask to recover your account, you can ignore this email: nothing changes until the code is used.\n`,
    html: layout(
      'Recover your Delega account',
      `<p>Your account recovery code is:</p>${codeBlock(code)}<p>It expires in ${MINUTES(ttlSeconds)} minutes. Using it issues a new key for your default agent; the old key stops working.</p>`,
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
    html: layout('Too many wrong codes', `<p>${escapeHtml(text.split('\n\n')[0]!)}</p><p>${escapeHtml(text.split('\n\n')[1]!.trim())}</p>`),
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
  const saysHtml = [
    label ? `<li>Name it gave: “${escapeHtml(label)}”</li>` : null,
    useCase ? `<li>What it says it does: “${escapeHtml(useCase)}”</li>` : null,
  ]
    .filter(Boolean)
    .join('');
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
    html: layout(
      'Claim your Delega agent',
      `<p>An AI agent named <strong>${escapeHtml(input.agentName)}</strong> signed up for Delega and gave this address as its human’s.</p>${
        saysHtml
          ? `<p style="color:#555">In its own words (written by the agent, not checked by Delega; links removed):</p><ul style="color:#555">${saysHtml}</ul>`
          : ''
      }
<p>Until you claim it, its key is restricted to one sandbox project. If you set up this agent yourself:</p>
<p><a href="${escapeHtml(input.link)}" style="display:inline-block;background:#111;color:#fff;padding:10px 18px;border-radius:6px;text-decoration:none">Review and claim</a></p>
<p style="font-size:13px">Or open: <a href="${escapeHtml(input.link)}">${escapeHtml(input.link)}</a> (valid for ${days} days, single use)</p>
<p>Or, only if you set up this agent yourself, give it this code (valid for ${MINUTES(input.codeTtlSeconds)} minutes):</p>${codeBlock(input.otp)}
<p>Delega never asks for this code by email, chat or phone, and nothing the agent wrote above comes from Delega. If you do not know this agent, ignore this email and it stays restricted.</p>`,
    ),
  };
}
