/**
 * The onboarding emails, each as plain text plus simple HTML with the same content.
 * Every value that came from a user is escaped in the HTML.
 */
import { escapeHtml } from './html';
import type { EmailMessage } from './mailer';

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

const codeBlock = (code: string) => `<p style="font-size:28px;font-weight:bold;letter-spacing:6px;font-family:ui-monospace,monospace">${escapeHtml(code)}</p>`;

// Subjects never carry the code: the dev transport logs subjects.
export function verificationEmail(to: string, code: string, ttlSeconds: number): EmailMessage {
  const subject = 'Your Delega verification code';
  return {
    to,
    subject,
    text: `Your Delega verification code is ${code}\n\nIt expires in ${MINUTES(ttlSeconds)} minutes. Verify with:\n\n  POST /v1/verify {"email": "${to}", "code": "${code}"}\n\nIf you did not sign up for Delega, you can ignore this email.\n`,
    html: layout('Verify your email', `<p>Your Delega verification code is:</p>${codeBlock(code)}<p>It expires in ${MINUTES(ttlSeconds)} minutes.</p>`),
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
  const who = input.agentLabel ? `${input.agentLabel} (${input.agentName})` : input.agentName;
  const days = Math.round(input.tokenTtlSeconds / 86400);
  const useCaseText = input.useCase ? `\nWhat it says it does: ${input.useCase}\n` : '';
  const useCaseHtml = input.useCase ? `<p>What it says it does: <em>${escapeHtml(input.useCase)}</em></p>` : '';
  return {
    to: input.to,
    subject: `Claim your Delega agent "${input.agentName}"`,
    text: `An AI agent, ${who}, signed up for Delega and named you as its human.${useCaseText}
Until you claim it, its key is restricted to one sandbox project. To claim the account and give the agent full access, open this link (valid for ${days} days, single use):

${input.link}

Or give the agent this code (valid for ${MINUTES(input.codeTtlSeconds)} minutes) to send to POST /v1/agent/claim/verify:

${input.otp}

If you do not know this agent, ignore this email and it stays restricted.
`,
    html: layout(
      'Claim your Delega agent',
      `<p>An AI agent, <strong>${escapeHtml(who)}</strong>, signed up for Delega and named you as its human.</p>${useCaseHtml}
<p>Until you claim it, its key is restricted to one sandbox project.</p>
<p><a href="${escapeHtml(input.link)}" style="display:inline-block;background:#111;color:#fff;padding:10px 18px;border-radius:6px;text-decoration:none">Review and claim</a></p>
<p style="font-size:13px">Or open: <a href="${escapeHtml(input.link)}">${escapeHtml(input.link)}</a> (valid for ${days} days, single use)</p>
<p>Or give the agent this code (valid for ${MINUTES(input.codeTtlSeconds)} minutes):</p>${codeBlock(input.otp)}
<p>If you do not know this agent, ignore this email and it stays restricted.</p>`,
    ),
  };
}
