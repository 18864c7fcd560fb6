/**
 * The human side of the magic link: `GET /claim?token=…` shows what is being claimed with a
 * confirm button; the button is a plain form POST to `/claim`, so it works without JavaScript.
 * Opening the link changes nothing (mail scanners prefetch links); only the button claims, and
 * signs the human in to the dashboard (the link came by email, like a sign-in link).
 */
import { Hono, type Context } from 'hono';
import type { Child } from 'hono/jsx';
import { eq } from 'drizzle-orm';
import { users } from '../db/schema';
import { completeClaim, lookupClaim, type ClaimPreview, type OnboardingDeps } from './onboarding';
import { sessionToken, setSessionCookie } from '../sign-in/cookie';
import { openSession, revokeSessionToken } from '../sign-in/magic-link';
import { htmlDocument } from '../platform/html';
import { STANDALONE_PAGE_HEADERS, StandalonePage } from '../http/standalone-page';
import type { AppBindings } from '../env';
import { ApiError } from '../platform/errors';
import { devMailboxRoutes } from './dev-mailbox-routes';
import { limitIp, onboardingDeps } from './routes';

type PageStatus = 200 | 400 | 404 | 409 | 410 | 429 | 503;

interface ClaimPage {
  status: PageStatus;
  title: string;
  body: Child;
}

function page(c: Context<AppBindings>, { status, title, body }: ClaimPage): Response {
  return c.body(htmlDocument(<StandalonePage title={title}>{body}</StandalonePage>), status, STANDALONE_PAGE_HEADERS);
}

function previewPage(c: Context<AppBindings>, token: string, preview: ClaimPreview): Response {
  const { agent, claim } = preview;
  const rows: [string, string | null][] = [
    ['Agent', agent.name],
    ['Label', agent.label],
    ['What it does', agent.use_case],
    ['Your email', claim.email],
    ['Signed up', agent.created_at],
    ['Link expires', claim.expires_at],
  ];
  return page(c, {
    status: 200,
    title: 'Claim this agent',
    body: (
      <>
        <p>
          An AI agent signed up for Delega and named you as its human. Until you claim it, its key works only inside one sandbox project.
        </p>
        <dl>
          {rows
            .filter(([, v]) => v)
            .map(([k, v]) => (
              <>
                <dt>{k}</dt>
                <dd>{v}</dd>
              </>
            ))}
        </dl>
        <p>Claiming makes you the owner of this account and gives the agent’s existing key full access.</p>
        <form method="post" action="/claim">
          <input type="hidden" name="token" value={token} />
          <button type="submit">Claim {agent.label ?? agent.name}</button>
        </form>
        <p class="note">If you do not know this agent, close this page: nothing changes unless you press the button.</p>
      </>
    ),
  });
}

const FAILURES: Record<'missing' | 'unknown' | 'expired' | 'used' | 'claimed', [PageStatus, string, Child]> = {
  missing: [
    400,
    'Claim link incomplete',
    <>
      This page needs the whole link from the claim email, including the part after <code>?token=</code>. Copy the full link and try again.
    </>,
  ],
  unknown: [
    404,
    'Claim link not recognised',
    'This claim link is not valid. Make sure the whole link was copied; if it still fails, ask the agent to send a new claim email.',
  ],
  expired: [
    410,
    'Claim link expired',
    <>
      Claim links last 7 days and this one has expired. Ask the agent to send a new claim email (it can call{' '}
      <code>POST /v1/agent/claim/resend</code>).
    </>,
  ],
  used: [
    410,
    'Claim link already used',
    'Each claim link works once, and this one has been used. If you claimed the agent, there is nothing more to do.',
  ],
  claimed: [
    409,
    'Already claimed',
    'This agent’s account has already been claimed; its key already has full access. There is nothing more to do.',
  ],
};

function failurePage(c: Context<AppBindings>, kind: keyof typeof FAILURES): Response {
  const [status, title, text] = FAILURES[kind];
  return page(c, { status, title, body: <p>{text}</p> });
}

function errorPage(c: Context<AppBindings>, err: unknown): Response {
  if (err instanceof ApiError && err.status === 429) {
    const res = page(c, { status: 429, title: 'Too many attempts', body: <p>{err.message}</p> });
    for (const [name, value] of Object.entries(err.headers ?? {})) res.headers.set(name, value);
    return res;
  }
  const kind = err instanceof ApiError ? FAILURE_BY_CODE[err.code] : undefined;
  if (kind) return failurePage(c, kind);
  throw err;
}

const FAILURE_BY_CODE: Record<string, keyof typeof FAILURES> = {
  CLAIM_TOKEN_NOT_FOUND: 'unknown',
  CLAIM_TOKEN_EXPIRED: 'expired',
  CLAIM_TOKEN_USED: 'used',
  ALREADY_CLAIMED: 'claimed',
};

const MAX_TOKEN = 200;

interface ClaimerSignIn {
  who: { email: string; accountId: string };
  now: number;
}

/** Opens a dashboard session for the claimer (an email that already belongs to another account gets none). */
async function signInClaimer(c: Context<AppBindings>, deps: OnboardingDeps, { who, now }: ClaimerSignIn): Promise<boolean> {
  const user = await deps.db.select({ id: users.id, accountId: users.accountId }).from(users).where(eq(users.email, who.email)).get();
  if (!user || user.accountId !== who.accountId) return false;
  await revokeSessionToken(deps.db, { pepper: deps.pepper, token: sessionToken(c), now });
  const session = await openSession(deps.db, { pepper: deps.pepper, who: { userId: user.id, accountId: who.accountId }, now });
  setSessionCookie(c, session.token);
  return true;
}

async function formToken(c: Context<AppBindings>): Promise<string> {
  // The form carries one short field; anything large is not ours.
  if (Number(c.req.header('Content-Length') ?? '0') > 4096) return '';
  try {
    const form = await c.req.parseBody();
    const token = form.token;
    return typeof token === 'string' ? token.trim() : '';
  } catch {
    return '';
  }
}

export const claimPageRoutes = new Hono<AppBindings>()
  .get('/claim', async (c) => {
    const token = (c.req.query('token') ?? '').trim();
    if (!token || token.length > MAX_TOKEN) return failurePage(c, 'missing');
    const deps = onboardingDeps(c, false);
    const now = Date.now();
    try {
      await limitIp(c, deps, now);
    } catch (err) {
      return errorPage(c, err);
    }
    const found = await lookupClaim(deps, token, now);
    if (found.status !== 'pending') return failurePage(c, found.status);
    return previewPage(c, token, found.preview);
  })
  .post('/claim', async (c) => {
    const token = await formToken(c);
    if (!token || token.length > MAX_TOKEN) return failurePage(c, 'missing');
    const deps = onboardingDeps(c, false);
    const now = Date.now();
    try {
      await limitIp(c, deps, now);
      const found = await lookupClaim(deps, token, now);
      const result = await completeClaim(deps, token, now);
      const name = result.agent.label ?? result.agent.name;
      // The link came by email, so it signs the human in too, when that email is this account's user.
      const signedIn =
        found.status === 'pending' &&
        (await signInClaimer(c, deps, { who: { email: found.token.email, accountId: result.account.id }, now }));
      return page(c, {
        status: 200,
        title: 'Agent claimed',
        body: (
          <>
            <p role="status">
              You now own this Delega account. <strong>{name}</strong> keeps its key, which has full access from now on.
            </p>
            {signedIn ? (
              <p>
                <a href="/app">Open your dashboard</a>: you are signed in.
              </p>
            ) : (
              <p>
                <a href="/app/sign-in">Sign in to the dashboard</a> with your email to see what your agents do.
              </p>
            )}
            <p class="note">
              To recover the account key later, use <code>POST /v1/recover</code> with this email address.
            </p>
          </>
        ),
      });
    } catch (err) {
      return errorPage(c, err);
    }
  })
  .route('/', devMailboxRoutes);
