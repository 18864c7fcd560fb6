/**
 * Onboarding over HTTP: human signup, verification and recovery; agent-first signup and the
 * human claim (magic-link token or the OTP the agent relays). The unauthenticated routes are
 * rate limited per IP here and per email address in the domain.
 */
import { z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { database } from '../db/client';
import {
  agentSignup,
  completeClaim,
  completeRecovery,
  previewClaim,
  requestRecovery,
  resendClaim,
  resendVerification,
  signup,
  verifyClaimCode,
  verifyEmail,
  type OnboardingDeps,
} from './onboarding';
import { hitRates } from '../accounts/onboarding-rate';
import { principalCache } from '../access/key-gate';
import { rateCounter, rateLimitHeaders } from '../access/rate-limiter';
import { mailerFor, type Mailer } from '../email/mailer';
import type { AppBindings } from '../env';
import { isDevelopment, keyPepper, limit } from '../platform/config';
import { ApiError } from '../platform/errors';
import { accountRoutes } from '../accounts/account-routes';
import { AgentWithKeySchema } from '../accounts/agent-routes';
import { authedRoute, clientIp, createRouter, errorContent, jsonBody, jsonContent, publicRoute } from '../access/router';
import { ProjectSchema } from '../accounts/project-routes';
import { agentSlug, email, shortText, timestamp } from '../http/schemas';
import { secretAnswer } from '../http/idempotency';

/**
 * Where magic links point: the request's own origin in development; elsewhere only
 * PUBLIC_BASE_URL, never the request's Host (which a caller chooses), and no mail without it.
 */
function linkBase(c: Context<AppBindings>): string {
  if (isDevelopment(c.env)) return new URL(c.req.url).origin;
  if (c.env.PUBLIC_BASE_URL) return c.env.PUBLIC_BASE_URL.replace(/\/+$/, '');
  console.error(JSON.stringify({ level: 'error', event: 'mail_not_configured', message: 'PUBLIC_BASE_URL is not set' }));
  throw new ApiError({
    status: 503,
    code: 'EMAIL_NOT_CONFIGURED',
    message: 'Email is not configured on this server (no PUBLIC_BASE_URL for links), so onboarding emails cannot be sent.',
  });
}

/** Misconfigured email is a clear 503 before anything is created, never a half-made account. */
function requireMailer(c: Context<AppBindings>): Mailer {
  try {
    return mailerFor(c.env);
  } catch (err) {
    console.error(
      JSON.stringify({ level: 'error', event: 'mail_not_configured', message: err instanceof Error ? err.message : String(err) }),
    );
    throw new ApiError({
      status: 503,
      code: 'EMAIL_NOT_CONFIGURED',
      message: 'Email is not configured on this server, so onboarding emails cannot be sent. The operator must set MAIL_TRANSPORT.',
    });
  }
}

// Routes that send mail only in exceptional cases (a code lockout tells the owner) must not fail
// on the mail configuration: the mailer is made when a message goes out, and a failure is logged.
const lazyMailer = (c: Context<AppBindings>): Mailer => ({ send: (message) => mailerFor(c.env).send(message) });

export function onboardingDeps(c: Context<AppBindings>, sendsMail = true): OnboardingDeps {
  return {
    db: database(c.env.DB),
    pepper: keyPepper(c.env),
    mailer: sendsMail ? requireMailer(c) : lazyMailer(c),
    linkBase: sendsMail ? linkBase(c) : '',
    limits: {
      perMinute: limit(c.env, 'ONBOARDING_RATE_PER_MINUTE'),
      emailsPerHour: limit(c.env, 'EMAILS_PER_HOUR'),
      lockout: {
        failures: limit(c.env, 'CODE_FAILURES_BEFORE_LOCKOUT'),
        baseSeconds: limit(c.env, 'CODE_LOCKOUT_SECONDS'),
        maxSeconds: limit(c.env, 'CODE_LOCKOUT_MAX_SECONDS'),
      },
    },
    rate: rateCounter(c.env),
    keys: principalCache(c.env),
    afterAnswer: (work) =>
      c.executionCtx.waitUntil(
        work().catch((err) =>
          console.error(
            JSON.stringify({ level: 'error', event: 'after_answer_failed', message: err instanceof Error ? err.message : String(err) }),
          ),
        ),
      ),
  };
}

/** The per-IP window shared by every unauthenticated onboarding route. */
const limitOnboardingIp: MiddlewareHandler<AppBindings> = async (c, next) => {
  const [decision] = await hitRates(
    rateCounter(c.env),
    [{ scope: `ip:${clientIp(c)}`, windowSeconds: 60, max: limit(c.env, 'ONBOARDING_RATE_PER_MINUTE') }],
    Date.now(),
  );
  await next();
  for (const [name, value] of Object.entries(rateLimitHeaders(decision!))) c.res.headers.set(name, value);
};
/** Onboarding routes count against the per-IP limit before anything else, idempotent replays included. */
const onboardingRoute: typeof publicRoute = (config) => publicRoute(config, { before: [limitOnboardingIp] });

export async function limitIp(c: Context<AppBindings>, deps: OnboardingDeps, now: number): Promise<void> {
  const [decision] = await hitRates(deps.rate, [{ scope: `ip:${clientIp(c)}`, windowSeconds: 60, max: deps.limits.perMinute }], now);
  for (const [name, value] of Object.entries(rateLimitHeaders(decision!))) c.header(name, value);
}

const code = z
  .string()
  .trim()
  .regex(/^\d{6}$/, 'Must be the 6-digit code from the email')
  .openapi({ example: '123456' });

const SignupBody = z.strictObject({ email, name: shortText(100).nullish() }).openapi('SignupRequest');
const VerifyBody = z.strictObject({ email, code }).openapi('VerifyRequest');
const EmailBody = z.strictObject({ email }).openapi('EmailRequest');
const RecoverBody = z
  .strictObject({
    email,
    code: code.optional().openapi({ description: 'Omit to have a code sent; include it to rotate the default agent’s key' }),
  })
  .openapi('RecoverRequest');
const AgentSignupBody = z
  .strictObject({
    human_email: email.openapi({ description: 'The human who will claim the account; gets the magic link and code' }),
    agent_name: agentSlug,
    agent_label: shortText(100).nullish().openapi({ description: 'Human-readable label shown to the human' }),
    use_case: shortText(1000).nullish().openapi({ description: 'What the agent does, shown to the human' }),
  })
  .openapi('AgentSignupRequest');
const TokenBody = z
  .strictObject({ token: z.string().min(1).max(200).openapi({ description: 'The `token` query parameter of the magic link' }) })
  .openapi('ClaimTokenRequest');
const OtpBody = z.strictObject({ otp: code }).openapi('ClaimOtpRequest');

const UserSchema = z
  .object({ id: z.string(), email: z.string(), name: z.string().nullable(), verified: z.boolean(), created_at: timestamp })
  .openapi('User');
const MessageSchema = z.object({ message: z.string() }).openapi('Message');
const PendingClaimSchema = z.object({
  status: z.literal('pending'),
  email: z.string().openapi({ description: 'The human email, masked', example: 'a***@example.com' }),
  expires_at: timestamp,
});

const SignupSchema = z
  .object({
    user: UserSchema,
    agent: AgentWithKeySchema,
    api_key: z.string().openapi({ description: 'The default agent’s key, shown only here (also as agent.api_key)' }),
    account: z.object({ id: z.string(), status: z.literal('active'), plan: z.string() }),
    project: ProjectSchema,
    message: z.string(),
  })
  .openapi('SignupResult');

const RecoverySchema = z
  .object({ recovered: z.literal(true), agent: AgentWithKeySchema, api_key: z.string(), message: z.string() })
  .openapi('RecoveryResult');

const AgentSignupSchema = z
  .object({
    agent: AgentWithKeySchema.extend({ label: z.string().nullable(), use_case: z.string().nullable() }),
    api_key: z.string().openapi({ description: 'The restricted key, shown only here; it becomes full when the human claims' }),
    mode: z.literal('restricted'),
    account: z.object({ id: z.string(), status: z.literal('restricted'), plan: z.string() }),
    project: ProjectSchema,
    sandbox_project: ProjectSchema,
    claim: PendingClaimSchema,
    message: z.string(),
  })
  .openapi('AgentSignupResult');

const ClaimPreviewSchema = z
  .object({
    claim: PendingClaimSchema,
    agent: z.object({
      id: z.string(),
      name: z.string(),
      label: z.string().nullable(),
      use_case: z.string().nullable(),
      created_at: timestamp,
    }),
    account: z.object({ id: z.string(), status: z.literal('restricted'), created_at: timestamp }),
  })
  .openapi('ClaimPreview');

const ClaimResultSchema = z
  .object({
    claimed: z.literal(true),
    account: z.object({ id: z.string(), status: z.literal('active'), claimed_at: timestamp }),
    agent: z.object({ id: z.string(), name: z.string(), label: z.string().nullable() }),
    mode: z.enum(['restricted', 'full', 'admin']),
    message: z.string(),
  })
  .openapi('ClaimResult');

const ResendClaimSchema = z.object({ sent: z.literal(true), claim: PendingClaimSchema, message: z.string() }).openapi('ClaimResent');

const tags = ['Onboarding'];
const mailUnavailable = { 503: errorContent('Email is not configured on this server (EMAIL_NOT_CONFIGURED)') };
const noPendingClaim = { 409: errorContent('No pending claim on this account (NO_PENDING_CLAIM), or it is already claimed') };

const signupRoute = onboardingRoute({
  method: 'post',
  path: '/signup',
  tags,
  summary: 'Human signup: account, default admin agent, first project and key',
  description: 'Emails a 6-digit verification code. The key is returned once, as `api_key` and `agent.api_key`.',
  request: { body: jsonBody(SignupBody) },
  responses: {
    201: jsonContent(SignupSchema, 'Account created'),
    409: errorContent('An account with this email exists (EMAIL_TAKEN)'),
    ...mailUnavailable,
  },
});

const verifyRoute = onboardingRoute({
  method: 'post',
  path: '/verify',
  tags,
  summary: 'Confirm the email with the 6-digit code',
  description: 'Does not reissue the key. Wrong, expired, used or unknown codes all answer 400 INVALID_CODE.',
  request: { body: jsonBody(VerifyBody) },
  responses: { 200: jsonContent(z.object({ verified: z.literal(true), email: z.string() }).openapi('Verified'), 'Verified') },
});

const resendVerificationRoute = onboardingRoute({
  method: 'post',
  path: '/resend-verification',
  tags,
  summary: 'Send a new verification code',
  description: 'Answers the same whether or not the email has an account.',
  request: { body: jsonBody(EmailBody) },
  responses: { 200: jsonContent(MessageSchema, 'Sent if the email has an unverified account'), ...mailUnavailable },
});

const recoverRoute = onboardingRoute({
  method: 'post',
  path: '/recover',
  tags,
  summary: 'Recover the default agent’s key: send a code, then trade it for a new key',
  description:
    'With `email` only: emails a recovery code (same answer for unknown emails). With `email` and `code`: rotates the default agent’s key and returns it; the old key stops working.',
  request: { body: jsonBody(RecoverBody) },
  responses: { 200: jsonContent(z.union([MessageSchema, RecoverySchema]), 'Code sent, or the new key'), ...mailUnavailable },
});

const agentSignupRoute = onboardingRoute({
  method: 'post',
  path: '/agent/signup',
  tags,
  summary: 'Agent-first signup: a restricted key and one sandbox project',
  description:
    'The human gets an email with a magic link (single use, 7 days) and a 6-digit code (15 minutes). After the claim the same key has full rights.',
  request: { body: jsonBody(AgentSignupBody) },
  responses: { 201: jsonContent(AgentSignupSchema, 'Restricted account created'), ...mailUnavailable },
});

const previewRoute = onboardingRoute({
  method: 'post',
  path: '/claim/preview',
  tags,
  summary: 'What a magic-link token would claim',
  request: { body: jsonBody(TokenBody) },
  responses: {
    200: jsonContent(ClaimPreviewSchema, 'The pending claim'),
    400: errorContent('Invalid body, or the link has expired (CLAIM_TOKEN_EXPIRED)'),
    404: errorContent('Unknown token (CLAIM_TOKEN_NOT_FOUND)'),
    409: errorContent('Token already used (CLAIM_TOKEN_USED) or account already claimed (ALREADY_CLAIMED)'),
  },
});

const completeRoute = onboardingRoute({
  method: 'post',
  path: '/claim/complete',
  tags,
  summary: 'Claim the account with a magic-link token',
  description: 'The account becomes active: the agent’s existing key has full rights from the next request.',
  request: { body: jsonBody(TokenBody) },
  responses: {
    200: jsonContent(ClaimResultSchema, 'Claimed'),
    400: errorContent('Invalid body, or the link has expired (CLAIM_TOKEN_EXPIRED)'),
    404: errorContent('Unknown token (CLAIM_TOKEN_NOT_FOUND)'),
    409: errorContent('Token already used (CLAIM_TOKEN_USED) or account already claimed (ALREADY_CLAIMED)'),
  },
});

const claimResendRoute = authedRoute('claim.resend', {
  method: 'post',
  path: '/agent/claim/resend',
  tags,
  summary: 'Send the human a new claim email (restricted keys only)',
  responses: { 200: jsonContent(ResendClaimSchema, 'Sent'), ...noPendingClaim, 503: errorContent('The email could not be sent') },
});

const claimVerifyRoute = authedRoute('claim.verify', {
  method: 'post',
  path: '/agent/claim/verify',
  tags,
  summary: 'Claim with the 6-digit code from the claim email (restricted keys only)',
  request: { body: jsonBody(OtpBody) },
  responses: { 200: jsonContent(ClaimResultSchema, 'Claimed: this key now has full rights'), ...noPendingClaim },
});

/** The domain call with its dependencies (the per-IP limit already ran, see onboardingRoute). */
async function publicCall<T>(
  c: Context<AppBindings>,
  run: (deps: OnboardingDeps, now: number) => Promise<T>,
  sendsMail = true,
): Promise<T> {
  return run(onboardingDeps(c, sendsMail), Date.now());
}

/** The answer holds a key shown once (see secretAnswer). */
function withSecret<T>(c: Context<AppBindings>, answer: T): T {
  secretAnswer(c);
  return answer;
}

export const onboardingRoutes = createRouter()
  .openapi(signupRoute, async (c) => c.json(withSecret(c, await publicCall(c, (deps, now) => signup(deps, c.req.valid('json'), now))), 201))
  .openapi(verifyRoute, async (c) => c.json(await publicCall(c, (deps, now) => verifyEmail(deps, c.req.valid('json'), now), false), 200))
  .openapi(resendVerificationRoute, async (c) =>
    c.json(await publicCall(c, (deps, now) => resendVerification(deps, c.req.valid('json'), now)), 200),
  )
  .openapi(recoverRoute, async (c) => {
    const body = c.req.valid('json');
    const answer = await publicCall(
      c,
      (deps, now) => (body.code ? completeRecovery(deps, { email: body.email, code: body.code }, now) : requestRecovery(deps, body, now)),
      !body.code,
    );
    if (body.code) secretAnswer(c);
    return c.json(answer, 200);
  })
  .openapi(agentSignupRoute, async (c) =>
    c.json(withSecret(c, await publicCall(c, (deps, now) => agentSignup(deps, c.req.valid('json'), now))), 201),
  )
  .openapi(previewRoute, async (c) =>
    c.json(await publicCall(c, (deps, now) => previewClaim(deps, c.req.valid('json').token, now), false), 200),
  )
  .openapi(completeRoute, async (c) =>
    c.json(await publicCall(c, (deps, now) => completeClaim(deps, c.req.valid('json').token, now), false), 200),
  )
  .openapi(claimResendRoute, async (c) => c.json(await resendClaim(onboardingDeps(c), c.get('principal'), Date.now()), 200))
  .openapi(claimVerifyRoute, async (c) =>
    c.json(await verifyClaimCode(onboardingDeps(c, false), c.get('principal'), { otp: c.req.valid('json').otp, now: Date.now() }), 200),
  )
  .route('/', accountRoutes);
