/** The decision email: the task, the question and its options, and the single-use answer link. */
import { escapeHtml } from '../email/html';
import type { EmailMessage } from '../email/mailer';
import type { Decision } from './decision-mail';

export interface DecisionEmailInput {
  to: string;
  task: string;
  decision: Decision;
  detail: string | null;
  link: string;
  ttlHours: number;
}

// The subject carries no user text beyond a trimmed task title, and never the link.
export function decisionEmail(input: DecisionEmailInput): EmailMessage {
  const { decision } = input;
  const question = decision.question ?? input.detail ?? 'An agent is waiting for your input.';
  const options = decision.options.length ? `\nOptions: ${decision.options.join(' / ')}\n` : '';
  const title = input.task.length > 80 ? `${input.task.slice(0, 77)}...` : input.task;
  return {
    to: input.to,
    subject: `Decision needed: ${title}`,
    text: `An agent working on "${input.task}" is waiting for your decision.\n\n${question}\n${options}\nAnswer here (the link works once and expires in ${input.ttlHours} hours):\n\n  ${input.link}\n\nYour answer is recorded on the task as a comment and as context the agent reads when it resumes.\n`,
    html: `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Decision needed</title></head>
<body style="font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;line-height:1.5;color:#111;max-width:560px;margin:0 auto;padding:24px">
<h1 style="font-size:20px">Decision needed</h1>
<p>An agent working on <strong>${escapeHtml(input.task)}</strong> is waiting for your decision.</p>
<p style="font-size:17px">${escapeHtml(question)}</p>
${decision.options.length ? `<ul>${decision.options.map((o) => `<li>${escapeHtml(o)}</li>`).join('')}</ul>` : ''}
<p><a href="${escapeHtml(input.link)}" style="display:inline-block;padding:10px 18px;background:#1a4fd6;color:#fff;border-radius:6px;text-decoration:none;font-weight:600">Answer</a></p>
<p style="color:#555;font-size:13px">The link works once and expires in ${input.ttlHours} hours. Opening it changes nothing until you send an answer.</p>
</body></html>`,
  };
}
