/**
 * The claim queues: accounts are spread over CLAIM_QUEUE_SHARDS Durable Objects
 * (`claimQueueOf(env, accountId)`), and each object serves every account placed on it. It
 * - serialises claims: requests that arrive while a D1 batch is in flight are sent together in
 *   the next batch, whichever of its accounts they come from, so a burst of claimers costs a few
 *   D1 round trips, not one each, and a fleet of one-agent accounts batches like one big account;
 * - commits completions the same way (`commit`): claims and completions share D1 batches, so
 *   under load a task's claim and completion cost a fraction of a round trip each;
 * - holds long-poll claimers (`wait_seconds`) in memory, per account, and retries them when a
 *   task of their account may have become claimable: `wake()` (created, released, uncompleted,
 *   reassigned, relabelled) or a lease expiring; one claimer per claimable task and claim shape
 *   tries, not every one held (see `wakeWaiters`). A claimer that comes back while nothing changed
 *   since the same claim found nothing is held without asking D1 again (see `knownEmpty`);
 * - keeps one alarm at the earliest lease expiry of its accounts, and on it returns their
 *   expired tasks to the queue;
 * - publishes in D1 whether an account has long-poll claimers (accounts.claimers_waiting), so
 *   task creates wake it only when someone waits (see `hold`).
 * D1 stays the source of truth: correctness rests on the conditional UPDATE in work-queue/claims.ts,
 * never on this object being the only writer.
 */
import { DurableObject } from 'cloudflare:workers';
import { AsyncLocalStorage } from 'node:async_hooks';
import { eq } from 'drizzle-orm';
import { database, type Db } from '../db/client';
import { accounts } from '../db/schema';
import {
  abandonClaim,
  claimEventQueries,
  claimLandedQueries,
  claimNextQueries,
  CLAIM_SWEEP_STATEMENTS,
  CLAIMED_RESULT,
  claimTaskStatements,
  expireLeases,
  type ClaimNextRequest,
  type ClaimTaskRequest,
  type ClaimTaskResult,
  type RawQuery,
} from './claims';
import { toRawQuery, type RawRow } from '../db/sql-batch';
import { latestBookmark, type D1Receipt } from '../db/session';
import { addStatementCosts } from '../platform/d1-metrics';
import { taskFromRaw } from '../tasks/tasks';
import { taskJson, type TaskFields } from '../tasks/task-json';
import type { Env } from '../env';
import { newId } from '../platform/ids';
import { afterCommit, wakeScopeOf, type WakeScope } from '../events/after-commit';
import type { RecordedEvent } from '../events/outbox';
import { meteredEnv } from '../platform/d1-metrics';

/** Statements sent to D1 in one batch at most (claims and completions are three or four each). */
const MAX_STATEMENTS_PER_BATCH = 75;
/** How long the queue keeps saying "claimers wait" after the last one left (a worker that long-polls in a loop comes straight back). */
export const CLAIMERS_WAITING_GRACE_MS = 10_000;
/** Storage key of an account's earliest lease end (ms) that this object knows of: `lease:<account id>`. */
export const LEASE_KEY_PREFIX = 'lease:';
/** Where an object from before the sharding (one per account) remembered its account. */
const LEGACY_ACCOUNT_KEY = 'account_id';

export interface Job {
  build: (db: Db, now: number) => RawQuery[];
  /**
   * How many of its first statements the batch may share: one that another job of the batch
   * also leads with (same SQL, same values) runs once, and both jobs read its result. A claim
   * leads with the sweep of lapsed runs, the same for every claim of the account at that moment.
   */
  shared: number;
  /**
   * For when its batch fails and may have committed all the same (the connection dropped on the
   * answer): per statement of the job, a query that reads again what it returned (null: none).
   * The job landed when the first of them finds rows; then it is answered from them and never
   * runs twice. Called after `build`.
   */
  landed?: () => (RawQuery | null)[];
  resolve: (results: D1Result<RawRow>[]) => void;
  reject: (error: unknown) => void;
  /** The receipt of the call that queued it (see `withReceipt`), told of each batch it rode in. */
  receipt?: D1Receipt;
}

interface Waiter {
  req: ClaimNextRequest;
  /** `shapeOf(req)`: waiters of one shape would find the same tasks. */
  shape: string;
  /** `filterOf(req)`: waiters of one filter would find the same unassigned tasks. */
  filter: string;
  resolve: (row: TaskFields | null) => void;
  reject: (error: unknown) => void;
  timer?: ReturnType<typeof setTimeout>;
  /** A claim attempt is in flight; `again` asks for one more when it ends. */
  busy: boolean;
  again: boolean;
  timedOut: boolean;
  /** Its call's receipt: a claim tried again on a wake-up still reports the batch that won it. */
  receipt?: D1Receipt;
  done: boolean;
  /** Its client went away: a task it wins goes straight back to the queue. */
  abandoned: boolean;
}

/** What the object keeps per account: its held claimers and its claimers_waiting flag. */
interface AccountQueue {
  id: string;
  /** Held long-poll claimers, oldest first (a Set iterates in insertion order). */
  waiters: Set<Waiter>;
  /** Counts wake-ups, so a claimer that found nothing can tell whether it missed one. */
  wakes: number;
  /** The value of accounts.claimers_waiting once the queued writes land; undefined until this object wrote it. */
  waitingFlag: boolean | undefined;
  /** The flag's write of true has landed (and no clearing is queued): every create since wakes us. */
  flagVisible: boolean;
  /** Writes of the flag, in order. */
  flagWrites: Promise<void>;
  clearTimer: ReturnType<typeof setTimeout> | undefined;
  /** Claim shapes (`shapeOf`) that found nothing while the flag was visible, with `wakes` as it was then. */
  nothingFor: Map<string, number>;
}

/** A task handed to a held claim, kept a while so the claim can still be abandoned if its client never got it. */
interface HandedOut {
  req: ClaimNextRequest;
  taskId: string;
  claimedAt: string;
  until: number;
}

/** How long a handed-out or abandoned hold is remembered (longer than any answer takes to leave). */
const HOLD_MEMORY_MS = 60_000;

/** The calls whose D1 writes a caller may need to read back: answered with a receipt by `withReceipt`. */
export type ReceiptMethod = 'claimNext' | 'claimTask' | 'commit';
const receipts = new AsyncLocalStorage<D1Receipt>();

interface ReleasedRows {
  /** The tasks as the write answered them. */
  rows: TaskFields[];
  /** Outbox id by task id. */
  eventIds: Map<string, string>;
  now: number;
}

/** The system's task.released events a write recorded (outbox id by task id), with the tasks as it answered them. */
function releasedEvents(accountId: string, { rows, eventIds, now }: ReleasedRows): RecordedEvent[] {
  return rows.flatMap((row) => {
    const id = eventIds.get(row.id);
    return id ? [{ id, event: 'task.released' as const, accountId, agentId: null, task: taskJson(row, now) }] : [];
  });
}

/** Which shared object serves an account (its tests place accounts by it). */
export { claimQueueOf, shardOf } from '../events/after-commit';

/** Claims of one shape find the same tasks: same claimer (assignee, sandbox), labels and project. */
const shapeOf = (req: ClaimNextRequest) =>
  JSON.stringify([req.claimer.agentId, req.claimer.sandboxProjectId, [...req.labels].sort(), req.projectId]);
/** Claims of one filter find the same unassigned tasks: labels and project (a sandboxed claimer sees only its own tasks). */
const filterOf = (req: ClaimNextRequest) =>
  JSON.stringify([req.claimer.sandboxProjectId === null ? null : req.claimer.agentId, [...req.labels].sort(), req.projectId]);

export interface Settlement {
  /** The claimed task, or null when nothing was claimed. */
  row: TaskFields | null;
  error?: unknown;
}

export class ClaimQueue extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, meteredEnv(env, 'ClaimQueue'));
  }

  private pending: Job[] = [];
  private flushing = false;
  private accounts = new Map<string, AccountQueue>();
  /** Per account, its earliest lease end this object knows of (mirrors the `lease:` storage keys); undefined until read. */
  private leases: Map<string, number> | undefined;
  /** The scheduled alarm; undefined until read from storage. */
  private alarmAt: number | null | undefined = undefined;
  /** Held claims answered with a task, by holdId. */
  private handedOut = new Map<string, HandedOut>();
  /** Holds abandoned before their claim arrived here, by holdId, with when to forget them. */
  private abandonedEarly = new Map<string, number>();
  /** Where claim and completion batches go (a test wraps it to fail a batch after D1 committed it). */
  d1: D1Database = this.env.DB;

  /**
   * `method` with `args`, answered with the receipt of the D1 batches it rode in: their bookmark
   * (so the Worker's answer lets its client read these writes back from a replica) and how many
   * round trips it waited on. work-queue/queue-receipts.ts calls it in the route's place.
   */
  async withReceipt<M extends ReceiptMethod>(
    method: M,
    args: Parameters<ClaimQueue[M]>,
  ): Promise<{ value: Awaited<ReturnType<ClaimQueue[M]>>; receipt: D1Receipt }> {
    const receipt: D1Receipt = { bookmark: null, d1RoundTrips: 0, statements: 0, rowsRead: 0, rowsWritten: 0 };
    const call = this[method] as (...a: unknown[]) => Promise<Awaited<ReturnType<ClaimQueue[M]>>>;
    const value = await receipts.run(receipt, () => call.apply(this, args));
    return { value, receipt };
  }

  /** The best claimable task for the request, or null once `waitSeconds` have passed without one. */
  async claimNext(req: ClaimNextRequest): Promise<TaskFields | null> {
    const deadline = Date.now() + req.waitSeconds * 1000;
    let account = this.account(req.claimer.accountId);
    this.forgetOldHolds();
    if (req.holdId && this.abandonedEarly.delete(req.holdId)) return null;
    const seen = account.wakes;
    const shape = req.waitSeconds > 0 ? shapeOf(req) : null;
    // A long-poller back while nothing changed since its last try found nothing: held at once, no D1.
    if (!shape || !this.knownEmpty(account, shape)) {
      const flagVisible = account.flagVisible;
      const row = await this.claimOnce(req);
      if (!row && shape && flagVisible && account.flagVisible) account.nothingFor.set(shape, seen);
      if (row || req.waitSeconds <= 0) return this.handOut(req, row);
      // Its entry may have been dropped meanwhile (flag cleared, nobody held): a new one publishes the flag afresh.
      account = this.account(req.claimer.accountId);
    }
    const held = account;
    return new Promise<TaskFields | null>((resolve, reject) => {
      const waiter: Waiter = {
        req,
        shape: shape ?? shapeOf(req),
        filter: filterOf(req),
        resolve,
        reject,
        busy: false,
        again: false,
        timedOut: false,
        done: false,
        abandoned: false,
        receipt: receipts.getStore(),
      };
      waiter.timer = setTimeout(() => this.timeOut(held, waiter), Math.max(0, deadline - Date.now()));
      held.waiters.add(waiter);
      void this.hold(held, waiter, seen);
    });
  }

  /**
   * Nothing is claimable for `shape` as far as D1 can tell: a claim of that shape found nothing
   * after the claimers_waiting flag was visible, and since then nothing woke the account (every
   * create, release, relabel... wakes it while the flag is visible) and no lease ran out.
   */
  private knownEmpty(account: AccountQueue, shape: string): boolean {
    if (!account.flagVisible || account.nothingFor.get(shape) !== account.wakes) return false;
    const lease = this.leaseTimes().get(account.id);
    return lease === undefined || lease > Date.now();
  }

  private account(accountId: string): AccountQueue {
    let account = this.accounts.get(accountId);
    if (!account) {
      account = {
        id: accountId,
        waiters: new Set(),
        wakes: 0,
        waitingFlag: undefined,
        flagVisible: false,
        flagWrites: Promise.resolve(),
        clearTimer: undefined,
        nothingFor: new Map(),
      };
      this.accounts.set(accountId, account);
    }
    return account;
  }

  /**
   * A held claimer must not miss a task created meanwhile. Creates wake this object only once
   * they can see accounts.claimers_waiting set, so: make sure the flag is visible, then try
   * again. A task created before the flag was visible is found by that try; one created after
   * it wakes us. With the flag already visible, a create since `seen` has woken us (and counted in `wakes`).
   */
  private async hold(account: AccountQueue, waiter: Waiter, seen: number): Promise<void> {
    clearTimeout(account.clearTimer);
    account.clearTimer = undefined;
    if (!account.flagVisible) {
      await this.publishWaiting(account, true);
      this.attempt(account, waiter);
    } else if (account.wakes !== seen) this.attempt(account, waiter);
  }

  /** Queues a write of the flag after any earlier one; resolves once it landed (errors are logged: a stale flag only costs a wake-up or a delay). */
  private publishWaiting(account: AccountQueue, value: boolean): Promise<void> {
    if (account.waitingFlag === value) return account.flagWrites;
    account.waitingFlag = value;
    if (!value) {
      account.flagVisible = false;
      account.nothingFor.clear();
    }
    account.flagWrites = account.flagWrites.then(() =>
      database(this.env.DB)
        .update(accounts)
        .set({ claimersWaiting: value })
        .where(eq(accounts.id, account.id))
        .then(() => {
          if (value && account.waitingFlag === true) account.flagVisible = true;
          if (!value && account.waitingFlag === false && account.waiters.size === 0) this.accounts.delete(account.id);
        })
        .catch((e: unknown) => {
          account.waitingFlag = undefined;
          account.flagVisible = false;
          console.error(
            JSON.stringify({ level: 'error', message: 'claimers_waiting write failed', accountId: account.id, error: String(e) }),
          );
        }),
    );
    return account.flagWrites;
  }

  /** After the last held claimer leaves, and a grace period without a new one, the flag is cleared. */
  private releaseWaitingSoon(account: AccountQueue): void {
    if (account.waiters.size > 0) return;
    clearTimeout(account.clearTimer);
    account.clearTimer = setTimeout(() => {
      account.clearTimer = undefined;
      if (account.waiters.size === 0) void this.publishWaiting(account, false);
    }, CLAIMERS_WAITING_GRACE_MS);
  }

  /**
   * Runs the statements (a completion, rendered by the route) in the queue's next D1 batch: one
   * transaction with whatever else that batch carries. Answers each statement's rows.
   */
  async commit(_accountId: string, queries: RawQuery[], landed?: (RawQuery | null)[]): Promise<RawRow[][]> {
    const results = await this.run(() => queries, 0, landed && (() => landed));
    return results.map((r) => r.results ?? []);
  }

  /** A targeted claim (or the extension of the caller's own live claim). */
  async claimTask(req: ClaimTaskRequest): Promise<ClaimTaskResult> {
    let runId = '';
    const [, opened, updated] = await this.run(
      (db, now) => [
        ...claimTaskStatements(db, req, { now, runId: (runId = newId('run', now)) }).map((s) => toRawQuery(s)),
        ...claimEventQueries(req.event, runId, now),
      ],
      0,
      () => claimLandedQueries(database(this.env.DB), 'task', runId),
    );
    const row = firstTask(updated);
    if (row?.leaseExpiresAt) await this.scheduleExpiry(req.claimer.accountId, Date.parse(row.leaseExpiresAt));
    return { row, fresh: (opened?.meta.changes ?? 0) > 0 };
  }

  /**
   * The client of the held claim `holdId` went away (the route saw its request aborted). A claim
   * still waiting ends with nothing; a task already won for it goes back to the queue at once
   * (the client may never have received it), instead of staying claimed until its lease ends.
   */
  async abandon(accountId: string, holdId: string): Promise<void> {
    const account = this.account(accountId);
    const waiter = [...account.waiters].find((w) => w.req.holdId === holdId);
    if (waiter) {
      waiter.abandoned = true;
      waiter.timedOut = true;
      if (!waiter.busy) this.settle(account, waiter, { row: null });
      return;
    }
    const handed = this.handedOut.get(holdId);
    if (handed) {
      this.handedOut.delete(holdId);
      await this.giveBack(handed.req, handed.taskId, handed.claimedAt);
      return;
    }
    this.abandonedEarly.set(holdId, Date.now() + HOLD_MEMORY_MS);
  }

  /** Tasks may have become claimable in the account: its held claimers that may take them try again (see `wakeWaiters`). */
  async wake(accountId: string, scope: WakeScope = {}): Promise<void> {
    const account = this.account(accountId);
    // Woken with nobody held (e.g. a flag left set when this object was evicted): clear it.
    if (account.waiters.size === 0 && account.waitingFlag !== false && account.clearTimer === undefined)
      void this.publishWaiting(account, false);
    this.wakeWaiters(account, scope);
  }

  /** A lease of the account now ends at `at` (e.g. a heartbeat shortened it): make sure the alarm is no later. */
  async noteLease(accountId: string, at: number): Promise<void> {
    await this.scheduleExpiry(accountId, at);
  }

  /** Lease expiry: in each account whose earliest lease has come, return expired tasks to the queue, record their runs, wake held claimers. */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const leases = this.leaseTimes();
    const legacy = await this.ctx.storage.get<string>(LEGACY_ACCOUNT_KEY);
    if (legacy !== undefined) {
      if (!leases.has(legacy)) leases.set(legacy, 0);
      await this.ctx.storage.delete(LEGACY_ACCOUNT_KEY);
    }
    const now = Date.now();
    const due = [...leases].filter(([, at]) => at <= now).map(([id]) => id);
    await Promise.all(
      due.map(async (accountId) => {
        const { expired, events, nextLeaseAt } = await expireLeases(database(this.env.DB), accountId, now);
        this.setLease(accountId, nextLeaseAt);
        afterCommit({ env: this.env, ctx: this.ctx }, { events: releasedEvents(accountId, { rows: expired, eventIds: events, now }), now });
        if (expired.length > 0) this.wakeWaiters(this.account(accountId), wakeScopeOf(expired));
      }),
    );
    let next = Infinity;
    for (const at of leases.values()) next = Math.min(next, at);
    if (Number.isFinite(next)) {
      this.alarmAt = next;
      await this.ctx.storage.setAlarm(next);
    }
  }

  private async claimOnce(req: ClaimNextRequest): Promise<TaskFields | null> {
    let runId = '';
    const results = await this.run(
      (db, now) => [...claimNextQueries(db, req, { now, runId: (runId = newId('run', now)) }), ...claimEventQueries(req.event, runId, now)],
      CLAIM_SWEEP_STATEMENTS,
      () => claimLandedQueries(database(this.env.DB), 'next', runId),
    );
    const row = firstTask(results[CLAIMED_RESULT]);
    if (row?.leaseExpiresAt) await this.scheduleExpiry(req.claimer.accountId, Date.parse(row.leaseExpiresAt));
    return row;
  }

  /** Queues a job's statements for the next D1 batch; resolves with the job's own results. */
  private run(build: Job['build'], shared = 0, landed?: Job['landed']): Promise<D1Result<RawRow>[]> {
    return new Promise((resolve, reject) => {
      this.pending.push({ build, shared, landed, resolve, reject, receipt: receipts.getStore() });
      void this.flush();
    });
  }

  /** One batch in flight at a time; whatever queued up meanwhile goes in the next one. */
  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.pending.length > 0) {
        const db = database(this.env.DB);
        const now = Date.now();
        const group: { job: Job; queries: RawQuery[] }[] = [];
        let size = 0;
        while (this.pending.length > 0) {
          const job = this.pending[0]!;
          let queries: RawQuery[];
          try {
            queries = job.build(db, now);
          } catch (error) {
            this.pending.shift();
            job.reject(error);
            continue;
          }
          if (group.length > 0 && size + queries.length > MAX_STATEMENTS_PER_BATCH) break;
          this.pending.shift();
          group.push({ job, queries });
          size += queries.length;
        }
        if (group.length === 0) continue;
        const { statements, slots } = shareLeading(group);
        try {
          const results = await this.batch(statements, group);
          group.forEach(({ job }, i) => {
            const jobResults = slots[i]!.map((at) => results[at]!);
            if (job.receipt) addStatementCosts(job.receipt, jobResults);
            job.resolve(jobResults);
          });
        } catch (error) {
          await this.recover(group, error);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /**
   * A batch failed. Either one job's statement failed and the transaction rolled back every job
   * in it, or D1 committed and the answer was lost. Jobs that landed are answered from what D1
   * holds; the others run again, each on its own, so only the job at fault fails and none takes
   * effect twice (a claim run twice would hold two tasks).
   */
  private async recover(group: { job: Job; queries: RawQuery[] }[], error: unknown): Promise<void> {
    const checks = group.map(({ job }) => job.landed?.() ?? null);
    let landed: (D1Result<RawRow>[] | null)[];
    let unknowable = false;
    try {
      landed = await this.readLanded(checks, group);
    } catch {
      landed = checks.map(() => null);
      unknowable = true;
    }
    for (const [i, { job, queries }] of group.entries()) {
      const found = landed[i];
      if (found) job.resolve(found);
      // D1 cannot say whether it landed: fail it rather than risk running it twice.
      else if (unknowable && checks[i]) job.reject(error);
      else if (group.length === 1 && !job.landed) job.reject(error);
      else await this.batch(queries, [{ job }]).then(job.resolve, job.reject);
    }
  }

  /** Per job, its results as D1 holds them if it landed, else null; one round trip for all. */
  private async readLanded(checks: ((RawQuery | null)[] | null)[], group: { job: Job }[]): Promise<(D1Result<RawRow>[] | null)[]> {
    const queries = checks.flatMap((c) => (c ?? []).filter((q): q is RawQuery => q !== null));
    if (queries.length === 0) return checks.map(() => null);
    const read = await this.batch(queries, group);
    let at = 0;
    return checks.map((c) => {
      if (!c) return null;
      const rows = c.map((q) => (q ? (read[at++]!.results ?? []) : []));
      const decisive = c.findIndex((q) => q !== null);
      return rows[decisive]!.length > 0 ? rows.map(asResult) : null;
    });
  }

  /** One D1 round trip for the jobs of `group`, in a session of its own: its bookmark goes on their receipts. */
  private async batch(queries: RawQuery[], group: { job: Job }[]): Promise<D1Result<RawRow>[]> {
    const session = this.d1.withSession('first-primary');
    try {
      return await session.batch<RawRow>(queries.map((q) => session.prepare(q.sql).bind(...q.params)));
    } finally {
      // A failed batch is a round trip too; its session may still have learnt a bookmark.
      for (const { job } of group) {
        if (!job.receipt) continue;
        job.receipt.d1RoundTrips++;
        job.receipt.bookmark = latestBookmark(job.receipt.bookmark, session.getBookmark());
      }
    }
  }

  /**
   * Tasks may have become claimable. With their assignee known (`scope.assignee`; null for
   * unassigned tasks), `scope.tasks` held claimers per claim filter try, oldest first, only the
   * assignee's for assigned tasks: claimers of one filter find the same unassigned tasks, and a
   * task assigned to one agent only that agent's claims find. Unknown: every held claimer tries.
   * A claimer that ends without settling the question (it won a task: there may be more; it
   * failed; it timed out with a wake-up pending) passes it on to the next of its filter
   * (`passOn`), so none is lost, and a created task costs one or two claims, not one per claimer.
   */
  private wakeWaiters(account: AccountQueue, scope: WakeScope): void {
    account.wakes++;
    account.nothingFor.clear();
    const { assignee } = scope;
    const perFilter = assignee === undefined ? Infinity : (scope.tasks ?? 1);
    const woken = new Map<string, number>();
    for (const waiter of account.waiters) {
      if (assignee && waiter.req.claimer.agentId !== assignee) continue;
      const n = woken.get(waiter.filter) ?? 0;
      if (n >= perFilter) continue;
      woken.set(waiter.filter, n + 1);
      this.attempt(account, waiter);
    }
  }

  /** The next held claimer of `from`'s filter tries in its place: one of the same agent first (a wake-up for its assigned task). */
  private passOn(account: AccountQueue, from: Waiter): void {
    const candidates = [...account.waiters].filter((w) => w !== from && !w.done && w.filter === from.filter);
    const next = candidates.find((w) => w.req.claimer.agentId === from.req.claimer.agentId) ?? candidates[0];
    if (next) this.attempt(account, next);
  }

  private attempt(account: AccountQueue, waiter: Waiter): void {
    if (waiter.done) return;
    if (waiter.busy) {
      waiter.again = true;
      return;
    }
    waiter.busy = true;
    const tryClaim = async () => {
      let passOn = false;
      try {
        do {
          waiter.again = false;
          const seen = account.wakes;
          const flagVisible = account.flagVisible;
          const row = await this.claimOnce(waiter.req);
          if (!row && flagVisible && account.flagVisible) account.nothingFor.set(shapeOf(waiter.req), seen);
          if (row && waiter.abandoned) {
            this.settle(account, waiter, { row: null });
            // Its task goes back to the queue, and that wakes a claimer.
            return void (await this.giveBack(waiter.req, row.id, row.claimedAt));
          }
          // A task won after the deadline is still handed over, never left claimed by nobody.
          passOn = row !== null;
          if (row) return this.settle(account, waiter, { row });
        } while (waiter.again && !waiter.timedOut);
        if (waiter.timedOut) {
          passOn = waiter.again;
          this.settle(account, waiter, { row: null });
        }
      } catch (error) {
        passOn = true;
        this.settle(account, waiter, { row: null, error });
      } finally {
        waiter.busy = false;
        if (passOn) this.passOn(account, waiter);
      }
    };
    // Woken by another call (a create's wake, the alarm): the batches are still this claim's.
    void (waiter.receipt ? receipts.run(waiter.receipt, tryClaim) : tryClaim());
  }

  private timeOut(account: AccountQueue, waiter: Waiter): void {
    waiter.timedOut = true;
    if (!waiter.busy) this.settle(account, waiter, { row: null });
  }

  private settle(account: AccountQueue, waiter: Waiter, { row, error }: Settlement): void {
    if (waiter.done) return;
    waiter.done = true;
    clearTimeout(waiter.timer);
    account.waiters.delete(waiter);
    this.releaseWaitingSoon(account);
    if (error !== undefined) waiter.reject(error);
    else waiter.resolve(this.handOut(waiter.req, row));
  }

  /** Remembers which task a held claim was given, in case its client turns out to be gone. */
  private handOut(req: ClaimNextRequest, row: TaskFields | null): TaskFields | null {
    if (row && req.holdId && row.claimedAt) {
      this.handedOut.set(req.holdId, { req, taskId: row.id, claimedAt: row.claimedAt, until: Date.now() + HOLD_MEMORY_MS });
    }
    return row;
  }

  private forgetOldHolds(): void {
    const now = Date.now();
    for (const [id, h] of this.handedOut) if (h.until <= now) this.handedOut.delete(id);
    for (const [id, until] of this.abandonedEarly) if (until <= now) this.abandonedEarly.delete(id);
  }

  /** Ends a claim nobody received and returns its task to the queue (woken claimers may take it). */
  private async giveBack(req: ClaimNextRequest, taskId: string, claimedAt: string | null): Promise<void> {
    if (!claimedAt) return;
    const now = Date.now();
    const released = await abandonClaim(database(this.env.DB), req.claimer, { taskId, claimedAt, now });
    if (!released) return;
    afterCommit(
      { env: this.env, ctx: this.ctx },
      { events: releasedEvents(req.claimer.accountId, { rows: [released.row], eventIds: released.events, now }), now },
    );
    this.wakeWaiters(this.account(req.claimer.accountId), wakeScopeOf([released.row]));
  }

  /** The `lease:` storage keys, read once per object life. */
  private leaseTimes(): Map<string, number> {
    if (!this.leases) {
      this.leases = new Map();
      for (const [key, at] of this.ctx.storage.kv.list<number>({ prefix: LEASE_KEY_PREFIX }))
        this.leases.set(key.slice(LEASE_KEY_PREFIX.length), at);
    }
    return this.leases;
  }

  private setLease(accountId: string, at: number | null): void {
    const leases = this.leaseTimes();
    if (at === null) {
      leases.delete(accountId);
      this.ctx.storage.kv.delete(LEASE_KEY_PREFIX + accountId);
    } else {
      leases.set(accountId, at);
      this.ctx.storage.kv.put(LEASE_KEY_PREFIX + accountId, at);
    }
  }

  private async scheduleExpiry(accountId: string, at: number): Promise<void> {
    const known = this.leaseTimes().get(accountId);
    if (known === undefined || known > at) this.setLease(accountId, at);
    if (this.alarmAt === undefined) this.alarmAt = await this.ctx.storage.getAlarm();
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }
}

/**
 * The batch's statements, each shareable leading statement once, and for each job where its
 * results are (one index into the batch per statement of the job).
 */
export function shareLeading(group: { job: Job; queries: RawQuery[] }[]): { statements: RawQuery[]; slots: number[][] } {
  const statements: RawQuery[] = [];
  const sharedAt = new Map<string, number>();
  const slots = group.map(({ job, queries }) =>
    queries.map((q, i) => {
      if (i >= job.shared) return statements.push(q) - 1;
      const key = `${q.sql}\u0000${JSON.stringify(q.params)}`;
      let at = sharedAt.get(key);
      if (at === undefined) sharedAt.set(key, (at = statements.push(q) - 1));
      return at;
    }),
  );
  return { statements, slots };
}

/** Rows read back for a statement that landed, as its own result would have carried them. */
const asResult = (rows: RawRow[]): D1Result<RawRow> => ({
  results: rows,
  success: true,
  meta: { changes: rows.length } as D1Meta & Record<string, unknown>,
});

/** The claimed task from a claim's UPDATE ... RETURNING, if it took one. */
function firstTask(result: D1Result<RawRow> | undefined): TaskFields | null {
  const raw = result?.results[0];
  return raw ? taskFromRaw(raw) : null;
}
