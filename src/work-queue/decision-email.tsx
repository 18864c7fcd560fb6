/** The decision email: the task, the question and its options, and the single-use answer link. */
import { MailButton, MailLayout } from '../email/layout';
import type { EmailMessage } from '../email/mailer';
import { htmlDocument } from '../platform/html';
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
    html: htmlDocument(
      <MailLayout
        title="Decision needed"
        footnote={`The link works once and expires in ${input.ttlHours} hours. Opening it changes nothing until you send an answer.`}
      >
        <p>
          An agent working on <strong>{input.task}</strong> is waiting for your decision.
        </p>
        <p style="font-size:17px">{question}</p>
        {decision.options.length ? (
          <ul>
            {decision.options.map((o) => (
              <li>{o}</li>
            ))}
          </ul>
        ) : null}
        <MailButton href={input.link} label="Answer" color="#1a4fd6" />
      </MailLayout>,
    ),
  };
}
