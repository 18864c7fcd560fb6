/**
 * The answer page: `GET /answer?token=…` shows the task and the question, with each option as a
 * button and a free-text answer; it changes nothing (mail scanners prefetch links). The form
 * POSTs to `/answer`, which records the answer once. hono/jsx escapes every value it renders.
 */
import { Hono, type Context } from 'hono';
import type { Child, FC } from 'hono/jsx';
import type { AppBindings } from '../env';
import { htmlDocument } from '../platform/html';
import { STANDALONE_PAGE_HEADERS, StandalonePage } from '../http/standalone-page';
import { ApiError } from '../platform/errors';
import { limitIp, onboardingDeps } from '../onboarding/routes';
import { lookupLink, MAX_ANSWER_CHARS, recordAnswer, type LinkPreview } from './answers';

type PageStatus = 200 | 400 | 404 | 410 | 429;

interface DecisionPage {
  status: PageStatus;
  title: string;
  body: Child;
}

function render(c: Context<AppBindings>, { status, title, body }: DecisionPage): Response {
  return c.body(htmlDocument(<StandalonePage title={title}>{body}</StandalonePage>), status, STANDALONE_PAGE_HEADERS);
}

const AnswerForm: FC<{ token: string; preview: LinkPreview }> = ({ token, preview }) => {
  const { task, decision } = preview;
  return (
    <>
      <p>
        An agent working on <strong>{task.content}</strong> is waiting for your decision.
      </p>
      {decision.question ? <p class="question">{decision.question}</p> : task.stateDetail ? <pre>{task.stateDetail}</pre> : null}
      {decision.options.length > 0 && (
        <form method="post" action="/answer" class="options">
          <input type="hidden" name="token" value={token} />
          {decision.options.map((option) => (
            <button type="submit" name="answer" value={option}>
              {option}
            </button>
          ))}
        </form>
      )}
      <form method="post" action="/answer">
        <input type="hidden" name="token" value={token} />
        <label for="answer">{decision.options.length ? 'Or answer in your own words' : 'Your answer'}</label>
        <textarea id="answer" name="answer" maxlength={MAX_ANSWER_CHARS} required></textarea>
        <p>
          <button type="submit">Send answer</button>
        </p>
      </form>
      <p class="note">This link works once and expires at {preview.expiresAt}. Nothing is recorded until you send an answer.</p>
    </>
  );
};

const FAILURES = {
  missing: [400, 'Answer link incomplete', 'This page needs the whole link from the email, including the part after ?token=.'],
  unknown: [404, 'Answer link not recognised', 'This answer link is not valid. Make sure the whole link was copied.'],
  expired: [
    410,
    'Answer link expired',
    'Answer links last 72 hours and this one has expired. The agent can ask again by reporting waiting_input.',
  ],
  used: [410, 'Already answered', 'Each answer link works once, and an answer has already been recorded with this one.'],
  empty: [400, 'No answer given', 'Write an answer or pick one of the options, then send it again.'],
} as const;

const failure = (c: Context<AppBindings>, kind: keyof typeof FAILURES) => {
  const [status, title, text] = FAILURES[kind];
  return render(c, { status, title, body: <p>{text}</p> });
};

const MAX_TOKEN = 200;

async function readForm(c: Context<AppBindings>): Promise<{ token: string; answer: string }> {
  if (Number(c.req.header('Content-Length') ?? '0') > 16_384) return { token: '', answer: '' };
  try {
    const form = await c.req.parseBody();
    const text = (v: unknown) => (typeof v === 'string' ? v.trim() : '');
    return { token: text(form.token), answer: text(form.answer) };
  } catch {
    return { token: '', answer: '' };
  }
}

async function limited(c: Context<AppBindings>, now: number): Promise<Response | null> {
  try {
    await limitIp(c, onboardingDeps(c, false), now);
    return null;
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 429) throw err;
    const res = render(c, { status: 429, title: 'Too many attempts', body: <p>{err.message}</p> });
    for (const [name, value] of Object.entries(err.headers ?? {})) res.headers.set(name, value);
    return res;
  }
}

export const decisionPageRoutes = new Hono<AppBindings>()
  .get('/answer', async (c) => {
    const token = (c.req.query('token') ?? '').trim();
    if (!token || token.length > MAX_TOKEN) return failure(c, 'missing');
    const now = Date.now();
    const refused = await limited(c, now);
    if (refused) return refused;
    const found = await lookupLink(c.env, token, now);
    if (found.status !== 'pending') return failure(c, found.status);
    return render(c, { status: 200, title: 'Decision needed', body: <AnswerForm token={token} preview={found.preview} /> });
  })
  .post('/answer', async (c) => {
    const { token, answer } = await readForm(c);
    if (!token || token.length > MAX_TOKEN) return failure(c, 'missing');
    if (!answer) return failure(c, 'empty');
    const now = Date.now();
    const refused = await limited(c, now);
    if (refused) return refused;
    const outcome = await recordAnswer(c.env, c.executionCtx, { token, answer: answer.slice(0, MAX_ANSWER_CHARS), now });
    if (outcome.status !== 'recorded') return failure(c, outcome.status);
    return render(c, {
      status: 200,
      title: 'Answer recorded',
      body: (
        <>
          <p role="status">
            Thank you. Your answer was recorded on the task
            {outcome.inContext ? ' as a comment and as context the agent reads when it resumes' : ' as a comment'}.
          </p>
          <p class="note">You can close this page.</p>
        </>
      ),
    });
  });
