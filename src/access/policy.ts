/**
 * The authorisation table: which kinds of key may perform each operation, and the scope rule
 * that narrows what they see. Route middleware enforces it and `GET /v1/capabilities` renders
 * it, so the two cannot drift. Every authenticated route names one operation from here.
 * A human signed in to the dashboard is the account's admin (src/sign-in/magic-link.ts): its
 * pages and actions are checked against the same table.
 */
import { ApiError, type ErrorCode } from '../platform/errors';

export type Role = 'worker' | 'coordinator' | 'admin';
export type Mode = 'restricted' | 'full' | 'admin';
/** What the table is keyed on: a restricted key, or a full key's role. */
export type Kind = 'restricted' | Role;

export interface Principal {
  agentId: string;
  agentName: string;
  accountId: string;
  role: Role;
  mode: Mode;
  plan: 'free' | 'pro' | 'scale';
  /** The agent-first sandbox project, if any. Restricted keys are pinned to it. */
  sandboxProjectId: string | null;
  isDefaultAgent: boolean;
  /** Whether the account had an active webhook when the request was authenticated. */
  hasWebhooks: boolean;
  /** Whether the account had an active automation rule when the request was authenticated. */
  hasAutomations: boolean;
}

export function kindOf(p: Pick<Principal, 'mode' | 'role'>): Kind {
  return p.mode === 'restricted' ? 'restricted' : p.role;
}

export function modeFor(accountStatus: 'restricted' | 'active', role: Role): Mode {
  if (accountStatus === 'restricted') return 'restricted';
  return role === 'admin' ? 'admin' : 'full';
}

const ALL: readonly Kind[] = ['restricted', 'worker', 'coordinator', 'admin'];
const FULL: readonly Kind[] = ['worker', 'coordinator', 'admin'];
const OVERSEERS: readonly Kind[] = ['coordinator', 'admin'];
const ADMIN: readonly Kind[] = ['admin'];
const RESTRICTED_ONLY: readonly Kind[] = ['restricted'];

/**
 * The standing on its target (a task, an agent, a comment) a write needs. `owner` writes to a
 * task (delete, reassign, rewrite what the task asks, delegate, reopen) belong to its creator and
 * its assignee; `work` writes (context, subtasks, links, complete) also to the holder of a live
 * claim. A claim is never ownership. `self`: an agent's own profile and key; `author`: a comment.
 * Admins (not restricted keys) stand on every target of the account.
 */
export type Standing = 'owner' | 'work' | 'self' | 'author';
/** The relations that give each standing; the domain finds which hold (task-access.ts for tasks: rows and SQL). */
export type Relation = 'creator' | 'assignee' | 'live_claim' | 'self' | 'author';
/** What a standing is held on: the field of /v1/capabilities that names it. */
export type Target = 'task' | 'agent' | 'comment';
export const STANDINGS = {
  owner: { on: 'task', relations: ['creator', 'assignee'], adminAlways: true, describe: 'its creator or assignee; admin: any task' },
  work: {
    on: 'task',
    relations: ['creator', 'assignee', 'live_claim'],
    adminAlways: true,
    describe: 'its creator, its assignee or the holder of a live claim; admin: any task',
  },
  self: { on: 'agent', relations: ['self'], adminAlways: true, describe: 'the calling agent itself; admin: any agent of the account' },
  author: { on: 'comment', relations: ['author'], adminAlways: true, describe: 'the comment’s author; admin: any comment of the account' },
} as const satisfies Record<Standing, { on: Target; relations: readonly Relation[]; adminAlways: boolean; describe: string }>;

interface Rule {
  kinds: readonly Kind[];
  /** How the answer is narrowed for the caller; shown in /v1/capabilities. */
  scope: string;
  /** For writes to one target: the standing on it the caller needs (else 403). */
  standing?: Standing;
  /** Served by the routes of another operation: a request to them that does this needs this too. */
  via?: string;
}

const TASK_SCOPE =
  'restricted: tasks it created in its sandbox project; worker: tasks it created, is assigned, claimed or completed; coordinator and admin: every task of the account';
const OWNER_SCOPE = `${TASK_SCOPE}; only ${STANDINGS.owner.describe} (a claim is not enough)`;
const WORK_SCOPE = `${TASK_SCOPE}; only ${STANDINGS.work.describe}`;
const CLAIM_SCOPE = 'tasks the caller holds a live claim on';

export const ACCESS = {
  'account.me': { kinds: ALL, scope: 'the calling agent and its account' },
  'account.capabilities': { kinds: ALL, scope: 'the calling key' },
  'account.usage': { kinds: ALL, scope: 'the account' },
  'account.stats': { kinds: FULL, scope: TASK_SCOPE },
  'claim.resend': { kinds: RESTRICTED_ONLY, scope: 'the calling key’s pending claim' },
  'claim.verify': { kinds: RESTRICTED_ONLY, scope: 'the calling key’s pending claim' },

  'agents.list': { kinds: OVERSEERS, scope: 'agents of the account' },
  'agents.read': { kinds: FULL, scope: 'worker: itself; coordinator and admin: agents of the account' },
  'agents.create': { kinds: ADMIN, scope: 'the account' },
  'agents.update': {
    kinds: FULL,
    scope: 'display_name and description of the calling agent; admin: of any agent of the account',
    standing: 'self',
  },
  'agents.manage': {
    kinds: ADMIN,
    scope:
      'name, role and active state of agents of the account (PUT/PATCH /agents/{id} with any of them), never demoting or deactivating itself or the recovery agent',
    via: 'agents.update',
  },
  'agents.delete': {
    kinds: ADMIN,
    scope:
      'agents of the account, except the recovery agent, itself, the last active agent, and agents that tasks, recurrences, automation rules or ingress sources reference',
  },
  'agents.rotate_key': { kinds: FULL, scope: 'the calling agent’s own key; admin: any agent of the account', standing: 'self' },
  'agents.runs': { kinds: FULL, scope: 'worker: its own runs; coordinator and admin: any agent of the account' },

  'projects.list': { kinds: ALL, scope: 'restricted: its sandbox project; full: projects of the account' },
  'projects.read': { kinds: ALL, scope: 'restricted: its sandbox project; full: projects of the account' },
  'projects.create': { kinds: ADMIN, scope: 'the account' },
  'projects.update': { kinds: ADMIN, scope: 'projects of the account' },
  'projects.delete': { kinds: ADMIN, scope: 'projects of the account' },

  'tasks.list': { kinds: ALL, scope: TASK_SCOPE },
  'tasks.read': { kinds: ALL, scope: TASK_SCOPE },
  'tasks.create': { kinds: ALL, scope: 'restricted: pinned to its sandbox project, no assignment to other agents' },
  'tasks.update': { kinds: ALL, scope: OWNER_SCOPE, standing: 'owner' },
  'tasks.delete': { kinds: FULL, scope: OWNER_SCOPE, standing: 'owner' },
  'tasks.complete': { kinds: ALL, scope: WORK_SCOPE, standing: 'work' },
  'tasks.uncomplete': { kinds: ALL, scope: OWNER_SCOPE, standing: 'owner' },
  'tasks.delegate': { kinds: FULL, scope: OWNER_SCOPE, standing: 'owner' },
  'tasks.chain': { kinds: FULL, scope: TASK_SCOPE },
  'tasks.children': { kinds: FULL, scope: TASK_SCOPE },
  'tasks.context.read': { kinds: FULL, scope: TASK_SCOPE },
  'tasks.context.write': { kinds: FULL, scope: WORK_SCOPE, standing: 'work' },
  'tasks.subtasks.read': { kinds: FULL, scope: TASK_SCOPE },
  'tasks.subtasks.write': { kinds: FULL, scope: WORK_SCOPE, standing: 'work' },
  'tasks.comments.read': { kinds: ALL, scope: TASK_SCOPE },
  'tasks.comments.write': { kinds: ALL, scope: `${TASK_SCOPE}; coordinators may comment on any account task` },
  'tasks.comments.delete': { kinds: FULL, scope: `comments on ${TASK_SCOPE}; only ${STANDINGS.author.describe}`, standing: 'author' },
  'tasks.links.read': { kinds: ALL, scope: TASK_SCOPE },
  'tasks.links.write': { kinds: ALL, scope: WORK_SCOPE, standing: 'work' },
  'tasks.dedup': { kinds: FULL, scope: `open tasks, ${TASK_SCOPE}` },

  'context.search': { kinds: FULL, scope: `context entries of ${TASK_SCOPE}` },

  'recurrences.list': {
    kinds: ALL,
    scope:
      'restricted: recurrences it created in its sandbox project; worker: recurrences it created or is assigned; coordinator and admin: every recurrence of the account',
  },
  'recurrences.create': { kinds: ALL, scope: 'restricted: pinned to its sandbox project, no assignment to other agents' },
  'recurrences.update': {
    kinds: ALL,
    scope: 'recurrences it may list that it created or is assigned; admin: any recurrence of the account',
  },
  'recurrences.delete': {
    kinds: ALL,
    scope: 'recurrences it may list that it created or is assigned; admin: any recurrence of the account (spawned tasks remain)',
  },

  'queue.claim_next': {
    kinds: ALL,
    scope: 'claimable tasks: unassigned or assigned to the caller; restricted: its sandbox project and own tasks',
  },
  'queue.claim': { kinds: ALL, scope: TASK_SCOPE },
  'queue.heartbeat': { kinds: ALL, scope: CLAIM_SCOPE },
  'queue.state': { kinds: ALL, scope: CLAIM_SCOPE },
  'queue.release': { kinds: ALL, scope: `${CLAIM_SCOPE}; admin: any claim` },
  'fleet.attention': { kinds: FULL, scope: TASK_SCOPE },

  'webhooks.list': { kinds: ADMIN, scope: 'webhooks of the account' },
  'webhooks.create': { kinds: ADMIN, scope: 'the account' },
  'webhooks.update': { kinds: ADMIN, scope: 'webhooks of the account' },
  'webhooks.delete': { kinds: ADMIN, scope: 'webhooks of the account' },
  'webhooks.deliveries': { kinds: ADMIN, scope: 'webhooks of the account' },
  'webhooks.test': { kinds: ADMIN, scope: 'webhooks of the account' },
  'webhooks.redeliver': { kinds: ADMIN, scope: 'webhooks of the account' },

  'automations.list': { kinds: ADMIN, scope: 'automation rules of the account' },
  'automations.create': { kinds: ADMIN, scope: 'the account' },
  'automations.update': { kinds: ADMIN, scope: 'automation rules of the account' },
  'automations.delete': { kinds: ADMIN, scope: 'automation rules of the account' },
  'automations.runs': { kinds: ADMIN, scope: 'automation rules of the account' },

  'ingress.list': { kinds: ADMIN, scope: 'ingress sources of the account' },
  'ingress.create': { kinds: ADMIN, scope: 'the account' },
  'ingress.update': { kinds: ADMIN, scope: 'ingress sources of the account' },
  'ingress.delete': { kinds: ADMIN, scope: 'ingress sources of the account' },
  'ingress.deliveries': { kinds: ADMIN, scope: 'ingress sources of the account' },

  'billing.checkout': { kinds: ADMIN, scope: 'the account' },
  'billing.portal': { kinds: ADMIN, scope: 'the account' },
} as const satisfies Record<string, Rule>;

export type Operation = keyof typeof ACCESS;
export const OPERATIONS = Object.keys(ACCESS) as Operation[];

/** The standing on its target `op` needs, if it writes to one target. */
export function standingFor(op: Operation): Standing | undefined {
  return (ACCESS[op] as Rule).standing;
}

/** The operation whose routes serve `op`, if it has none of its own. */
export function servedVia(op: Operation): Operation | undefined {
  return (ACCESS[op] as Rule).via as Operation | undefined;
}

export function isAllowed(p: Pick<Principal, 'mode' | 'role'>, op: Operation): boolean {
  return (ACCESS[op].kinds as readonly Kind[]).includes(kindOf(p));
}

/** Whether `p` stands on every target of the account for `op` without holding a relation (admins). */
export function standsOnAny(p: Pick<Principal, 'mode' | 'role'>, op: Operation): boolean {
  const standing = standingFor(op);
  return standing !== undefined && STANDINGS[standing].adminAlways && p.role === 'admin' && p.mode !== 'restricted';
}

/** Whether `p` has the standing `op` needs on a target, given the relations the domain found to hold. */
export function standsOn(p: Pick<Principal, 'mode' | 'role'>, op: Operation, holds: Partial<Record<Relation, boolean>>): boolean {
  const standing = standingFor(op);
  if (standing === undefined || standsOnAny(p, op)) return true;
  return (STANDINGS[standing].relations as readonly Relation[]).some((r) => holds[r] === true);
}

/** Throws the 403 the caller should see when the table refuses the operation; `what` names it in the message. */
export function authorize(p: Principal, op: Operation, what = 'This operation'): void {
  if (isAllowed(p, op)) return;
  const rule = ACCESS[op];
  if (p.mode === 'restricted') {
    throw new ApiError({
      status: 403,
      code: 'CLAIM_REQUIRED',
      message:
        'This key is restricted until a human claims the account: open the magic link sent to the human email (or call POST /v1/agent/claim/verify with the emailed code), then retry.',
    });
  }
  if (rule.kinds.every((k) => k === 'restricted')) {
    throw new ApiError({
      status: 403,
      code: 'NOT_RESTRICTED',
      message: 'This operation is only for restricted keys awaiting a human claim; this account is already claimed.',
    });
  }
  const needs = (rule.kinds as readonly Kind[]).filter((k) => k !== 'restricted').join(' or ');
  throw new ApiError({
    status: 403,
    code: 'INSUFFICIENT_ROLE',
    message: `${what} needs an agent with role ${needs}; this agent's role is ${p.role}.`,
  });
}

const STANDING_REFUSALS: Record<'self' | 'author', [code: ErrorCode, message: string]> = {
  self: ['INSUFFICIENT_ROLE', 'Only an admin may do this to another agent; any agent may do it to itself.'],
  author: ['COMMENT_NOT_OWNED', 'Only the comment’s author or an admin can delete it.'],
};

/**
 * The table's verdict on one agent or comment: the kinds first, then the standing from the
 * relations the domain found (`{ self: id === p.agentId }`). Task writes answer TASK_NOT_OWNED
 * through task-access.ts, which evaluates the same standings in SQL too.
 */
export function authorizeOn(p: Principal, op: Operation, holds: Partial<Record<Relation, boolean>>): void {
  authorize(p, op);
  if (standsOn(p, op, holds)) return;
  const standing = standingFor(op);
  const [code, message]: [ErrorCode, string] =
    standing === 'self' || standing === 'author'
      ? STANDING_REFUSALS[standing]
      : ['TASK_NOT_OWNED', `Only ${STANDINGS[standing!].describe} may do this.`];
  throw new ApiError({ status: 403, code, message });
}

/** One operation as /v1/capabilities shows it to one key. */
export interface Capability {
  allowed: boolean;
  scope: string;
  /** The standing the operation needs on its target, under the target's name. */
  task?: 'owner' | 'work';
  agent?: 'self';
  comment?: 'author';
  /** With a standing: whether this key may do it to every target of the account, standing or not (admins). */
  any_target?: boolean;
}

export function capabilityOf(p: Pick<Principal, 'mode' | 'role'>, op: Operation): Capability {
  const allowed = isAllowed(p, op);
  const standing = standingFor(op);
  return {
    allowed,
    scope: ACCESS[op].scope,
    ...(standing ? { [STANDINGS[standing].on]: standing, any_target: allowed && standsOnAny(p, op) } : {}),
  } as Capability;
}

/** The capability matrix for one key, straight from the table. */
export function capabilities(p: Principal) {
  return {
    agent_id: p.agentId,
    account_id: p.accountId,
    mode: p.mode,
    role: p.role,
    operations: Object.fromEntries(OPERATIONS.map((op) => [op, capabilityOf(p, op)])) as Record<Operation, Capability>,
    /** What each standing means, for the `task`, `agent` and `comment` fields of an operation. */
    task_standings: Object.fromEntries(Object.entries(STANDINGS).map(([name, s]) => [name, s.describe])) as Record<Standing, string>,
  };
}
