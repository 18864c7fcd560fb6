/**
 * The two ways into the service. Human signup: an active account, its default admin agent and
 * first project, and a verification code by email. Agent-first signup: a restricted account
 * pinned to a sandbox project, and a claim email (magic link + OTP) to the human, whose claim
 * turns the same key into a full one at once. Recovery rotates the default agent's key.
 *
 * Answers to unauthenticated calls never say whether an email is known (signup's 409 aside):
 * failures share one code and one message, and "we sent you an email" is said either way.
 */
import { and, desc, eq, isNull } from 'drizzle-orm';
import type { Db } from '../db/client';
import { accounts, agents, claimTokens, projects, users } from '../db/schema';
import type { Mailer, EmailMessage } from '../email/mailer';
import { maskEmail } from '../email/mask';
import { claimEmail, codeLockoutEmail, recoveryEmail, verificationEmail } from './mail-templates';
import { ApiError, badRequest, conflict } from '../platform/errors';
import { newId } from '../platform/ids';
import { isoSeconds } from '../platform/time';
import { modeFor, type Mode, type Principal } from '../access/policy';
import { createAccount } from '../accounts/accounts';
import { agentJson, isUniqueViolation, type AgentJson } from '../accounts/agents';
import { issueKey } from '../access/api-keys';
import type { PrincipalCache } from '../access/authentication';
import { hitRates, type RateRule } from '../accounts/onboarding-rate';
import type { RateCounter } from '../access/rate-limiter';
import {
  CODE_TTL_SECONDS,
  consumeCode,
  findClaimToken,
  issueClaimToken,
  issueCode,
  MAX_CODE_ATTEMPTS,
  TOKEN_TTL_SECONDS,
  type ClaimTokenRow,
  type CodeResult,
  type LockoutPolicy,
} from '../accounts/one-time-codes';
import { projectJson, type ProjectJson } from '../accounts/projects';
import { writtenLimit } from '../db/written-limit';

export interface OnboardingDeps {
  db: Db;
  pepper: string;
  mailer: Mailer;
  /** Claims and recoveries change principals: their cached copies must go. */
  keys: PrincipalCache;
  /** Origin the magic link points at, e.g. `https://api.delega.dev`. */
  linkBase: string;
  limits: { perMinute: number; emailsPerHour: number; lockout: LockoutPolicy };
  rate: RateCounter;
  /** Runs work after the answer is sent (waitUntil), so its time never shows in the answer's. */
  afterAnswer: (work: () => Promise<unknown>) => void;
}

// Each email address may receive only so many onboarding emails per hour.
const mailRule = (deps: OnboardingDeps, email: string): RateRule => ({
  scope: `mail:${email}`,
  windowSeconds: 3600,
  max: deps.limits.emailsPerHour,
});
// Code guesses are counted per address too, so rotating IPs does not buy more tries.
const tryRule = (deps: OnboardingDeps, email: string): RateRule => ({
  scope: `try:${email}`,
  windowSeconds: 60,
  max: deps.limits.perMinute,
});

/** Sends without failing the request: the account exists either way and the email can be resent. */
async function deliver(mailer: Mailer, message: EmailMessage, purpose: string): Promise<boolean> {
  try {
    await mailer.send(message);
    return true;
  } catch (err) {
    // Only the purpose and the transport's error: never the recipient's code or link.
    console.error(
      JSON.stringify({ level: 'error', event: 'mail_failed', purpose, message: err instanceof Error ? err.message : String(err) }),
    );
    return false;
  }
}

/** 429 while the account refuses codes; the attempt that set the lock also tells the owner by email. */
function lockedOut(deps: OnboardingDeps, result: Extract<CodeResult, { status: 'locked_out' }>, now: number): ApiError {
  if (result.justLocked) deps.afterAnswer(() => deliver(deps.mailer, codeLockoutEmail(result.email, result.until), 'lockout'));
  const retryAfter = Math.max(1, Math.ceil((Date.parse(result.until) - now) / 1000));
  return new ApiError({
    status: 429,
    code: 'CODE_ATTEMPTS_LOCKED',
    message: `Too many wrong codes for this account: every code is refused until ${result.until}, and the account's email address has been told. Try again after that.`,
    extra: { locked_until: result.until, retry_after: retryAfter },
    headers: { 'Retry-After': String(retryAfter) },
  });
}

const INVALID_CODE_MESSAGE = `Invalid or expired code. Codes are single use, expire after ${CODE_TTL_SECONDS / 60} minutes and allow ${MAX_CODE_ATTEMPTS} attempts; request a new one.`;
const invalidCode = () => badRequest('INVALID_CODE', INVALID_CODE_MESSAGE);

// ---------------------------------------------------------------- human signup

export interface UserJson {
  id: string;
  email: string;
  name: string | null;
  verified: boolean;
  created_at: string;
}

export interface SignupResult {
  user: UserJson;
  agent: AgentJson & { api_key: string };
  api_key: string;
  account: { id: string; status: 'active'; plan: string };
  project: ProjectJson;
  message: string;
}

const emailTaken = () =>
  conflict('EMAIL_TAKEN', 'An account with this email already exists. Use POST /v1/recover to get a new key for it.');

export async function signup(deps: OnboardingDeps, input: { email: string; name?: string | null }, now: number): Promise<SignupResult> {
  const { db } = deps;
  const email = input.email.toLowerCase();
  await hitRates(deps.rate, [mailRule(deps, email)], now);
  const existing = await db.select({ id: users.id }).from(users).where(eq(users.email, email)).get();
  if (existing) throw emailTaken();

  let made: Awaited<ReturnType<typeof createAccount>>;
  try {
    made = await createAccount(db, {
      pepper: deps.pepper,
      input: {
        status: 'active',
        agentName: 'default',
        agentDisplayName: input.name ? `${input.name}'s agent` : null,
        user: { email, name: input.name ?? null },
        projectName: 'Inbox',
        sandbox: false,
      },
      now,
    });
  } catch (err) {
    // Two signups for one email at once: the unique index decides, the loser sees the 409.
    if (isUniqueViolation(err)) throw emailTaken();
    throw err;
  }
  const [agentRows, projectRows, userRows] = await db.batch([
    db.select().from(agents).where(eq(agents.id, made.agentId)),
    db.select().from(projects).where(eq(projects.id, made.projectId)),
    db.select().from(users).where(eq(users.id, made.userId!)),
  ]);
  const { code } = await issueCode(db, { pepper: deps.pepper, input: { accountId: made.accountId, email, purpose: 'verify' }, now });
  const sent = await deliver(deps.mailer, verificationEmail(email, code, CODE_TTL_SECONDS), 'verify');
  const user = userRows[0]!;
  const agent = agentJson(agentRows[0]!, made.agentId, made.apiKey) as AgentJson & { api_key: string };
  return {
    user: { id: user.id, email: user.email, name: user.name, verified: false, created_at: user.createdAt },
    agent,
    api_key: made.apiKey,
    account: { id: made.accountId, status: 'active', plan: 'free' },
    project: projectJson(projectRows[0]!),
    message: sent
      ? `Account created. Save the API key now: it is shown only once. A 6-digit code was sent to ${email}; confirm it with POST /v1/verify.`
      : 'Account created. Save the API key now: it is shown only once. The verification email could not be sent; ask for another with POST /v1/resend-verification.',
  };
}

export async function verifyEmail(
  deps: OnboardingDeps,
  input: { email: string; code: string },
  now: number,
): Promise<{ verified: true; email: string }> {
  const email = input.email.toLowerCase();
  await hitRates(deps.rate, [tryRule(deps, email)], now);
  const result = await consumeCode(deps.db, {
    pepper: deps.pepper,
    input: { email, purpose: 'verify', code: input.code, lockout: deps.limits.lockout },
    now,
  });
  if (result.status === 'locked_out') throw lockedOut(deps, result, now);
  if (result.status !== 'ok') throw invalidCode();
  await deps.db
    .update(users)
    .set({ verifiedAt: isoSeconds(now) })
    .where(eq(users.email, email));
  return { verified: true, email };
}

const SENT_IF_KNOWN = 'If an account with that email is waiting for verification, a new 6-digit code is on its way.';

export async function resendVerification(deps: OnboardingDeps, input: { email: string }, now: number): Promise<{ message: string }> {
  const email = input.email.toLowerCase();
  // Counted before the lookup, so known and unknown addresses are limited alike.
  await hitRates(deps.rate, [mailRule(deps, email)], now);
  const user = await deps.db
    .select({ accountId: users.accountId, verifiedAt: users.verifiedAt })
    .from(users)
    .where(eq(users.email, email))
    .get();
  // After the answer: a known address must not answer slower than an unknown one.
  if (user && !user.verifiedAt) {
    deps.afterAnswer(async () => {
      const { code } = await issueCode(deps.db, {
        pepper: deps.pepper,
        input: { accountId: user.accountId, email, purpose: 'verify' },
        now,
      });
      await deliver(deps.mailer, verificationEmail(email, code, CODE_TTL_SECONDS), 'verify');
    });
  }
  return { message: SENT_IF_KNOWN };
}

// ---------------------------------------------------------------- recovery

const RECOVERY_SENT =
  'If an account uses that email, a 6-digit recovery code is on its way. Send it back with POST /v1/recover {email, code}.';

export async function requestRecovery(deps: OnboardingDeps, input: { email: string }, now: number): Promise<{ message: string }> {
  const email = input.email.toLowerCase();
  await hitRates(deps.rate, [mailRule(deps, email)], now);
  const user = await deps.db.select({ accountId: users.accountId }).from(users).where(eq(users.email, email)).get();
  if (user) {
    deps.afterAnswer(async () => {
      const { code } = await issueCode(deps.db, {
        pepper: deps.pepper,
        input: { accountId: user.accountId, email, purpose: 'recover' },
        now,
      });
      await deliver(deps.mailer, recoveryEmail(email, code, CODE_TTL_SECONDS), 'recover');
    });
  }
  return { message: RECOVERY_SENT };
}

export interface RecoveryResult {
  recovered: true;
  agent: AgentJson & { api_key: string };
  api_key: string;
  message: string;
}

/** A good code rotates the default (recovery) agent's key: the old key is dead at once. */
export async function completeRecovery(deps: OnboardingDeps, input: { email: string; code: string }, now: number): Promise<RecoveryResult> {
  const { db } = deps;
  const email = input.email.toLowerCase();
  await hitRates(deps.rate, [tryRule(deps, email)], now);
  const result = await consumeCode(db, {
    pepper: deps.pepper,
    input: { email, purpose: 'recover', code: input.code, lockout: deps.limits.lockout },
    now,
  });
  if (result.status === 'locked_out') throw lockedOut(deps, result, now);
  if (result.status !== 'ok') throw invalidCode();
  const account = await db
    .select({ defaultAgentId: accounts.defaultAgentId, keyHash: agents.keyHash })
    .from(accounts)
    .innerJoin(agents, eq(agents.id, accounts.defaultAgentId))
    .where(eq(accounts.id, result.accountId))
    .get();
  if (!account?.defaultAgentId) throw invalidCode();

  const key = await issueKey(deps.pepper, result.accountId);
  const ts = isoSeconds(now);
  const [updated] = await db.batch([
    // Recovery is the way back in, so it also reactivates a deactivated recovery agent.
    db
      .update(agents)
      .set({ keyHash: key.hash, keyPrefix: key.displayPrefix, keyRotatedAt: ts, updatedAt: ts, active: true })
      .where(and(eq(agents.id, account.defaultAgentId), eq(agents.accountId, result.accountId)))
      .returning(),
    // Answering the emailed code proves the address.
    db
      .update(users)
      .set({ verifiedAt: ts })
      .where(and(eq(users.email, email), isNull(users.verifiedAt))),
  ]);
  const row = updated[0];
  if (!row) throw invalidCode();
  await deps.keys.forgetKeys(result.accountId, [account.keyHash]);
  return {
    recovered: true,
    agent: agentJson(row, account.defaultAgentId, key.plaintext) as AgentJson & { api_key: string },
    api_key: key.plaintext,
    message: 'A new key was issued for the default agent; the previous key no longer works. Save it now: it is shown only once.',
  };
}

// ---------------------------------------------------------------- agent-first signup

export interface AgentSignupInput {
  human_email: string;
  agent_name: string;
  agent_label?: string | null;
  use_case?: string | null;
}

export interface AgentSignupResult {
  agent: AgentJson & { api_key: string; label: string | null; use_case: string | null };
  api_key: string;
  mode: 'restricted';
  account: { id: string; status: 'restricted'; plan: string };
  project: ProjectJson;
  sandbox_project: ProjectJson;
  claim: { status: 'pending'; email: string; expires_at: string };
  message: string;
}

const claimLink = (base: string, token: string) => `${base.replace(/\/+$/, '')}/claim?token=${encodeURIComponent(token)}`;

async function sendClaim(
  deps: OnboardingDeps,
  target: { accountId: string; agentId: string; email: string; agentName: string; agentLabel: string | null; useCase: string | null },
  now: number,
): Promise<{ expiresAt: string; sent: boolean }> {
  const [{ token, expiresAt }, { code }] = await Promise.all([
    issueClaimToken(deps.db, {
      pepper: deps.pepper,
      input: { accountId: target.accountId, agentId: target.agentId, email: target.email },
      now,
    }),
    issueCode(deps.db, { pepper: deps.pepper, input: { accountId: target.accountId, email: target.email, purpose: 'claim' }, now }),
  ]);
  const message = claimEmail({
    to: target.email,
    link: claimLink(deps.linkBase, token),
    otp: code,
    agentName: target.agentName,
    agentLabel: target.agentLabel,
    useCase: target.useCase,
    tokenTtlSeconds: TOKEN_TTL_SECONDS,
    codeTtlSeconds: CODE_TTL_SECONDS,
  });
  return { expiresAt, sent: await deliver(deps.mailer, message, 'claim') };
}

export async function agentSignup(deps: OnboardingDeps, input: AgentSignupInput, now: number): Promise<AgentSignupResult> {
  const { db } = deps;
  const email = input.human_email.toLowerCase();
  await hitRates(deps.rate, [mailRule(deps, email)], now);
  const label = input.agent_label?.trim() || null;
  const useCase = input.use_case?.trim() || null;
  const made = await createAccount(db, {
    pepper: deps.pepper,
    input: { status: 'restricted', agentName: input.agent_name, agentDisplayName: label, useCase, projectName: 'Sandbox', sandbox: true },
    now,
  });
  const [agentRows, projectRows] = await db.batch([
    db.select().from(agents).where(eq(agents.id, made.agentId)),
    db.select().from(projects).where(eq(projects.id, made.projectId)),
  ]);
  const { expiresAt, sent } = await sendClaim(
    deps,
    { accountId: made.accountId, agentId: made.agentId, email, agentName: input.agent_name, agentLabel: label, useCase },
    now,
  );
  const project = projectJson(projectRows[0]!);
  return {
    agent: { ...agentJson(agentRows[0]!, made.agentId, made.apiKey), api_key: made.apiKey, label, use_case: useCase },
    api_key: made.apiKey,
    mode: 'restricted',
    account: { id: made.accountId, status: 'restricted', plan: 'free' },
    project,
    sandbox_project: project,
    claim: { status: 'pending', email: maskEmail(email), expires_at: expiresAt },
    message: sent
      ? `Restricted key issued: it works inside the sandbox project only. A claim email went to ${maskEmail(email)}; once the human opens its link (or you send its code to POST /v1/agent/claim/verify), this same key gets full access.`
      : 'Restricted key issued: it works inside the sandbox project only. The claim email could not be sent; retry with POST /v1/agent/claim/resend.',
  };
}

// ---------------------------------------------------------------- the claim

export interface ClaimPreview {
  claim: { status: 'pending'; email: string; expires_at: string };
  agent: { id: string; name: string; label: string | null; use_case: string | null; created_at: string };
  account: { id: string; status: 'restricted'; created_at: string };
}

export type ClaimLookup =
  | { status: 'pending'; token: ClaimTokenRow; preview: ClaimPreview }
  | { status: 'unknown' | 'expired' | 'used' | 'claimed' };

/** Where a magic-link token stands, without changing anything (the claim page's GET uses it). */
export async function lookupClaim(deps: Pick<OnboardingDeps, 'db' | 'pepper'>, token: string, now: number): Promise<ClaimLookup> {
  const row = await findClaimToken(deps.db, deps.pepper, token);
  if (!row) return { status: 'unknown' };
  const found = await deps.db
    .select({
      agentId: agents.id,
      agentName: agents.name,
      label: agents.displayName,
      useCase: agents.useCase,
      agentCreatedAt: agents.createdAt,
      accountStatus: accounts.status,
      accountCreatedAt: accounts.createdAt,
    })
    .from(agents)
    .innerJoin(accounts, eq(accounts.id, agents.accountId))
    .where(and(eq(agents.id, row.agentId), eq(agents.accountId, row.accountId)))
    .get();
  if (!found) return { status: 'unknown' };
  if (row.usedAt) return { status: 'used' };
  if (found.accountStatus === 'active') return { status: 'claimed' };
  if (row.expiresAt <= isoSeconds(now)) return { status: 'expired' };
  return {
    status: 'pending',
    token: row,
    preview: {
      claim: { status: 'pending', email: maskEmail(row.email), expires_at: row.expiresAt },
      agent: { id: found.agentId, name: found.agentName, label: found.label, use_case: found.useCase, created_at: found.agentCreatedAt },
      account: { id: row.accountId, status: 'restricted', created_at: found.accountCreatedAt },
    },
  };
}

export function claimLookupError(status: 'unknown' | 'expired' | 'used' | 'claimed'): ApiError {
  switch (status) {
    case 'unknown':
      return new ApiError({
        status: 404,
        code: 'CLAIM_TOKEN_NOT_FOUND',
        message:
          'This claim link is not valid. Check that the whole link was copied, or ask the agent to send a new one (POST /v1/agent/claim/resend).',
      });
    case 'expired':
      return new ApiError({
        status: 400,
        code: 'CLAIM_TOKEN_EXPIRED',
        message: 'This claim link has expired (links last 7 days). Ask the agent to send a new one (POST /v1/agent/claim/resend).',
      });
    case 'used':
      return conflict('CLAIM_TOKEN_USED', 'This claim link was already used. Each link works once.');
    case 'claimed':
      return conflict('ALREADY_CLAIMED', 'This account has already been claimed; the agent’s key already has full access.');
  }
}

export async function previewClaim(deps: OnboardingDeps, token: string, now: number): Promise<ClaimPreview> {
  const found = await lookupClaim(deps, token, now);
  if (found.status !== 'pending') throw claimLookupError(found.status);
  return found.preview;
}

export interface ClaimResult {
  claimed: true;
  account: { id: string; status: 'active'; claimed_at: string };
  agent: { id: string; name: string; label: string | null };
  mode: Mode;
  message: string;
}

/**
 * Activates the account in one batch: the account row flips to active (so every key of it is
 * full at once), the human becomes a verified user, and the token (if any) is spent. Each write
 * is conditional, so a second concurrent claim changes nothing.
 */
async function activate(
  deps: Pick<OnboardingDeps, 'db' | 'keys'>,
  target: { accountId: string; email: string; tokenId?: string },
  now: number,
): Promise<boolean> {
  const { db } = deps;
  const ts = isoSeconds(now);
  const tokenSpend = target.tokenId
    ? db
        .update(claimTokens)
        .set({ usedAt: ts })
        .where(and(eq(claimTokens.id, target.tokenId), isNull(claimTokens.usedAt)))
        .returning({ id: claimTokens.id })
    : null;
  const flip = db
    .update(accounts)
    .set({ status: 'active', claimedAt: ts, updatedAt: ts })
    .where(and(eq(accounts.id, target.accountId), eq(accounts.status, 'restricted')))
    .returning({ id: accounts.id });
  // One email holds at most one user; if the human already has an account, this one is still claimed.
  const user = db
    .insert(users)
    .values({ id: newId('usr', now), accountId: target.accountId, email: target.email, verifiedAt: ts, createdAt: ts })
    .onConflictDoNothing();
  const [changed] = tokenSpend ? await db.batch([tokenSpend, flip, user]) : await db.batch([flip, user]);
  if (changed.length === 0) return false;
  // Every key of the account was restricted a moment ago.
  await deps.keys.forgetAccount(target.accountId);
  return true;
}

export async function completeClaim(deps: OnboardingDeps, token: string, now: number): Promise<ClaimResult> {
  const found = await lookupClaim(deps, token, now);
  if (found.status !== 'pending') throw claimLookupError(found.status);
  const { token: row, preview } = found;
  if (!(await activate(deps, { accountId: row.accountId, email: row.email, tokenId: row.id }, now))) throw claimLookupError('used');
  return claimResult(row.accountId, preview.agent, now);
}

function claimResult(accountId: string, agent: { id: string; name: string; label: string | null }, now: number): ClaimResult {
  return {
    claimed: true,
    account: { id: accountId, status: 'active', claimed_at: isoSeconds(now) },
    agent: { id: agent.id, name: agent.name, label: agent.label },
    mode: modeFor('active', 'admin'),
    message: `Claimed. The agent "${agent.name}" keeps its key, which now has full access to the account.`,
  };
}

/** The human email of a restricted account's pending claim (from its latest claim link). */
async function pendingClaimEmail(db: Db, accountId: string): Promise<string | null> {
  const row = await db
    .select({ email: claimTokens.email })
    .from(claimTokens)
    .where(eq(claimTokens.accountId, accountId))
    .orderBy(desc(claimTokens.createdAt), desc(claimTokens.id))
    .limit(writtenLimit(1))
    .get();
  return row?.email ?? null;
}

const noPendingClaim = () => conflict('NO_PENDING_CLAIM', 'This account has no pending claim to act on.');

export async function resendClaim(
  deps: OnboardingDeps,
  p: Principal,
  now: number,
): Promise<{ sent: true; claim: { status: 'pending'; email: string; expires_at: string }; message: string }> {
  const email = await pendingClaimEmail(deps.db, p.accountId);
  if (!email) throw noPendingClaim();
  await hitRates(deps.rate, [mailRule(deps, email)], now);
  const agent = await deps.db
    .select({ name: agents.name, label: agents.displayName, useCase: agents.useCase })
    .from(agents)
    .where(eq(agents.id, p.agentId))
    .get();
  const { expiresAt, sent } = await sendClaim(
    deps,
    {
      accountId: p.accountId,
      agentId: p.agentId,
      email,
      agentName: agent?.name ?? p.agentName,
      agentLabel: agent?.label ?? null,
      useCase: agent?.useCase ?? null,
    },
    now,
  );
  if (!sent)
    throw new ApiError({
      status: 503,
      code: 'EMAIL_UNAVAILABLE',
      message: 'The claim email could not be sent right now; try again shortly.',
    });
  return {
    sent: true,
    claim: { status: 'pending', email: maskEmail(email), expires_at: expiresAt },
    message: `A new claim email (link and 6-digit code) went to ${maskEmail(email)}. Earlier links keep working until they expire.`,
  };
}

function claimCodeError(deps: OnboardingDeps, result: Exclude<CodeResult, { status: 'ok' }>, now: number): ApiError {
  switch (result.status) {
    case 'locked_out':
      return lockedOut(deps, result, now);
    case 'invalid':
      return new ApiError({
        status: 400,
        code: 'INVALID_CODE',
        message: `Wrong code; ${result.attemptsRemaining} attempt${result.attemptsRemaining === 1 ? '' : 's'} left.`,
        extra: { attempts_remaining: result.attemptsRemaining },
      });
    case 'expired':
      return badRequest(
        'CODE_EXPIRED',
        `This code has expired (codes last ${CODE_TTL_SECONDS / 60} minutes). Get a new one with POST /v1/agent/claim/resend.`,
      );
    case 'locked':
      return badRequest(
        'CODE_LOCKED',
        `Too many wrong attempts: this code no longer works. Get a new one with POST /v1/agent/claim/resend.`,
      );
    case 'none':
      return badRequest('INVALID_CODE', 'No live claim code; get one with POST /v1/agent/claim/resend.');
  }
}

export interface ClaimCodeCheck {
  /** The code from the claim mail. */
  otp: string;
  now: number;
}

/** The OTP path: the agent relays the emailed code itself. */
export async function verifyClaimCode(deps: OnboardingDeps, p: Principal, { otp, now }: ClaimCodeCheck): Promise<ClaimResult> {
  const email = await pendingClaimEmail(deps.db, p.accountId);
  if (!email) throw noPendingClaim();
  await hitRates(deps.rate, [tryRule(deps, email)], now);
  const result = await consumeCode(deps.db, {
    pepper: deps.pepper,
    input: { email, purpose: 'claim', code: otp, accountId: p.accountId, lockout: deps.limits.lockout },
    now,
  });
  if (result.status !== 'ok') throw claimCodeError(deps, result, now);
  if (!(await activate(deps, { accountId: p.accountId, email }, now))) throw claimLookupError('claimed');
  const agent = await deps.db.select({ label: agents.displayName }).from(agents).where(eq(agents.id, p.agentId)).get();
  return claimResult(p.accountId, { id: p.agentId, name: p.agentName, label: agent?.label ?? null }, now);
}
