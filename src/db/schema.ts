/**
 * The D1 schema. Every list filter has an index; every row carries `account_id` so that
 * account scoping is an index prefix, never a scan.
 *
 * Timestamps are ISO 8601 UTC strings with second precision (`2026-01-15T10:30:00Z`), which
 * sort lexically in time order. Ids are prefixed and time-ordered (see lib/ids.ts).
 */
import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

export const accounts = sqliteTable('accounts', {
  id: text('id').primaryKey(),
  name: text('name'),
  /** restricted: agent-first signup not yet claimed by a human; active: claimed or verified human signup. */
  status: text('status', { enum: ['restricted', 'active'] }).notNull(),
  plan: text('plan', { enum: ['free', 'pro', 'scale'] })
    .notNull()
    .default('free'),
  /** The recovery agent: its key is what `POST /v1/recover` rotates. */
  defaultAgentId: text('default_agent_id'),
  stripeCustomerId: text('stripe_customer_id'),
  /** The `created` time of the newest Stripe event applied to the plan: an older one never overrides it. */
  billingEventAt: text('billing_event_at'),
  /** Active webhooks of the account, kept by triggers (migration 0003), so task writes of an
   * account without webhooks skip the webhook lookup entirely. */
  activeWebhooks: integer('active_webhooks').notNull().default(0),
  /** Active automation rules of the account, kept by triggers like active_webhooks, so task
   * writes of an account with neither webhooks nor rules emit no event at all. */
  activeAutomations: integer('active_automations').notNull().default(0),
  /** Whether the account's claim queue holds long-poll claimers (written only by that Durable
   * Object, migration 0007), so creating a task skips waking an empty queue. */
  claimersWaiting: integer('claimers_waiting', { mode: 'boolean' }).notNull().default(false),
  claimedAt: text('claimed_at'),
  createdAt: text('created_at').notNull(),
  updatedAt: text('updated_at').notNull(),
});

export const users = sqliteTable(
  'users',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id),
    /** Lower-cased. */
    email: text('email').notNull(),
    name: text('name'),
    verifiedAt: text('verified_at'),
    createdAt: text('created_at').notNull(),
  },
  (t) => [uniqueIndex('users_email_unique').on(t.email), index('users_account_idx').on(t.accountId)],
);

export const agents = sqliteTable(
  'agents',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id),
    /** Slug, unique within the account. */
    name: text('name').notNull(),
    displayName: text('display_name'),
    description: text('description'),
    role: text('role', { enum: ['worker', 'coordinator', 'admin'] })
      .notNull()
      .default('worker'),
    /** HMAC-SHA-256 of the key under KEY_PEPPER, hex. The plaintext is never stored. */
    keyHash: text('key_hash').notNull(),
    /** First characters of the key, safe to show so a human can tell keys apart. */
    keyPrefix: text('key_prefix').notNull(),
    active: integer('active', { mode: 'boolean' }).notNull().default(true),
    /** Agent-first signups work inside one sandbox project while restricted. */
    sandboxProjectId: text('sandbox_project_id'),
    useCase: text('use_case'),
    keyRotatedAt: text('key_rotated_at'),
    /** When the agent's key last made a request, written by its key gate at most every LAST_SEEN_WRITE_MS. */
    lastSeenAt: text('last_seen_at'),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [uniqueIndex('agents_key_hash_unique').on(t.keyHash), uniqueIndex('agents_account_name_unique').on(t.accountId, t.name)],
);

export const projects = sqliteTable(
  'projects',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id),
    name: text('name').notNull(),
    emoji: text('emoji'),
    color: text('color'),
    sortOrder: integer('sort_order').notNull().default(0),
    isSandbox: integer('is_sandbox', { mode: 'boolean' }).notNull().default(false),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [index('projects_account_sort_idx').on(t.accountId, t.sortOrder, t.id)],
);

/** One-time 6-digit codes: email verification, recovery, and the claim OTP. */
export const emailCodes = sqliteTable(
  'email_codes',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id),
    email: text('email').notNull(),
    purpose: text('purpose', { enum: ['verify', 'recover', 'claim', 'sign_in'] }).notNull(),
    /** HMAC of the code under KEY_PEPPER and this row's id, so equal codes never share a hash. */
    codeHash: text('code_hash').notNull(),
    attempts: integer('attempts').notNull().default(0),
    expiresAt: text('expires_at').notNull(),
    usedAt: text('used_at'),
    createdAt: text('created_at').notNull(),
  },
  (t) => [index('email_codes_lookup_idx').on(t.email, t.purpose, t.createdAt), index('email_codes_expires_idx').on(t.expiresAt)],
);

/**
 * Failed one-time codes per account, across codes and purposes: past a threshold the account's
 * codes are locked for a while, doubling with each lockout (see one-time-codes.ts).
 */
export const codeLockouts = sqliteTable(
  'code_lockouts',
  {
    accountId: text('account_id')
      .primaryKey()
      .references(() => accounts.id),
    /** Wrong codes since the last lockout or success. */
    failures: integer('failures').notNull().default(0),
    /** Lockouts so far without a success in between: the next lasts base × 2^lockouts. */
    lockouts: integer('lockouts').notNull().default(0),
    lockedUntil: text('locked_until'),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [index('code_lockouts_updated_idx').on(t.updatedAt)],
);

/** Stripe events already applied, by Stripe's event id: a redelivered or replayed event is acknowledged and ignored. */
export const stripeEvents = sqliteTable(
  'stripe_events',
  {
    id: text('id').primaryKey(),
    type: text('type').notNull(),
    /** This delivery's nonce: the plan update runs only for the delivery that recorded the event. */
    receipt: text('receipt').notNull(),
    receivedAt: text('received_at').notNull(),
  },
  (t) => [index('stripe_events_received_idx').on(t.receivedAt)],
);

/** Magic-link tokens for the human claim of an agent-first account. */
export const claimTokens = sqliteTable(
  'claim_tokens',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id),
    agentId: text('agent_id')
      .notNull()
      .references(() => agents.id),
    email: text('email').notNull(),
    tokenHash: text('token_hash').notNull(),
    expiresAt: text('expires_at').notNull(),
    usedAt: text('used_at'),
    createdAt: text('created_at').notNull(),
  },
  (t) => [uniqueIndex('claim_tokens_hash_unique').on(t.tokenHash), index('claim_tokens_account_idx').on(t.accountId)],
);

/** Development-only outbox: what the dev mailer "sent". Never written in production. */
export const devMailbox = sqliteTable(
  'dev_mailbox',
  {
    id: text('id').primaryKey(),
    to: text('to').notNull(),
    subject: text('subject').notNull(),
    text: text('text').notNull(),
    html: text('html').notNull(),
    createdAt: text('created_at').notNull(),
  },
  (t) => [index('dev_mailbox_to_idx').on(t.to, t.id)],
);

export const tasks = sqliteTable(
  'tasks',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id),
    projectId: text('project_id'),
    parentTaskId: text('parent_task_id'),
    /** Root of the delegation tree (itself for a root task), so a chain is one indexed read. */
    rootTaskId: text('root_task_id').notNull(),
    depth: integer('depth').notNull().default(0),
    content: text('content').notNull(),
    description: text('description'),
    priority: integer('priority').notNull().default(1),
    /** JSON array of strings; task_labels mirrors it for indexed filtering. */
    labels: text('labels').notNull().default('[]'),
    dueDate: text('due_date'),
    assignedToAgentId: text('assigned_to_agent_id'),
    createdByAgentId: text('created_by_agent_id').notNull(),
    accountableAgentId: text('accountable_agent_id'),
    status: text('status', { enum: ['open', 'claimed', 'delegated', 'completed'] })
      .notNull()
      .default('open'),
    completed: integer('completed', { mode: 'boolean' }).notNull().default(false),
    completedAt: text('completed_at'),
    completedByAgentId: text('completed_by_agent_id'),
    claimedByAgentId: text('claimed_by_agent_id'),
    claimedAt: text('claimed_at'),
    leaseExpiresAt: text('lease_expires_at'),
    lastHeartbeatAt: text('last_heartbeat_at'),
    sessionState: text('session_state', { enum: ['working', 'waiting_input', 'errored'] }),
    stateDetail: text('state_detail'),
    /** The last release's note for whoever claims next, who left it, and the session state it was left in. */
    handoffNote: text('handoff_note'),
    handoffByAgentId: text('handoff_by_agent_id'),
    handoffState: text('handoff_state', { enum: ['working', 'waiting_input', 'errored'] }),
    /** JSON array of {kind, ref, summary?}. */
    evidence: text('evidence').notNull().default('[]'),
    evidencePolicy: text('evidence_policy', { enum: ['required'] }),
    /** JSON object; task_context_history keeps every change. */
    context: text('context').notNull().default('{}'),
    contextVersion: integer('context_version').notNull().default(0),
    reopenCount: integer('reopen_count').notNull().default(0),
    /** Provenance: the recurrence that spawned the task, or the inbound connector that created it. */
    sourceRecurrenceId: text('source_recurrence_id'),
    sourceIngressId: text('source_ingress_id'),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [
    index('tasks_account_created_idx').on(t.accountId, t.createdAt, t.id),
    index('tasks_account_project_idx').on(t.accountId, t.projectId, t.createdAt, t.id),
    index('tasks_account_completed_idx').on(t.accountId, t.completed, t.createdAt, t.id),
    index('tasks_account_priority_idx').on(t.accountId, t.priority, t.createdAt, t.id),
    index('tasks_account_due_idx').on(t.accountId, t.dueDate, t.id),
    index('tasks_account_assigned_idx').on(t.accountId, t.assignedToAgentId, t.createdAt, t.id),
    index('tasks_account_claimed_by_idx').on(t.accountId, t.claimedByAgentId, t.createdAt, t.id),
    index('tasks_account_creator_idx').on(t.accountId, t.createdByAgentId, t.createdAt, t.id),
    index('tasks_account_accountable_idx').on(t.accountId, t.accountableAgentId),
    /** Carries created_at, id like the other agent columns, for a worker's listing; recreated so by migrations/0005_worker_list_indexes.sql. */
    index('tasks_account_completed_by_idx').on(t.accountId, t.completedByAgentId, t.createdAt, t.id),
    /** Today's completions for GET /v1/stats; created by migrations/0004_stats_indexes.sql (hand-written, not 0000_init). */
    index('tasks_account_completed_at_idx').on(t.accountId, t.completedAt),
    index('tasks_account_lease_idx').on(t.accountId, t.leaseExpiresAt),
    index('tasks_parent_idx').on(t.parentTaskId, t.createdAt),
    index('tasks_root_idx').on(t.rootTaskId, t.depth),
    /** The claim queue's order: highest priority first, then oldest (migration 0008 orders it so). */
    index('tasks_queue_idx').on(t.accountId, t.status, sql`${t.priority} desc`, t.createdAt, t.id),
  ],
);

export const taskLabels = sqliteTable(
  'task_labels',
  {
    taskId: text('task_id').notNull(),
    accountId: text('account_id').notNull(),
    label: text('label').notNull(),
    createdAt: text('created_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.taskId, t.label] }),
    index('task_labels_account_label_idx').on(t.accountId, t.label, t.createdAt, t.taskId),
  ],
);

export const subtasks = sqliteTable(
  'subtasks',
  {
    id: text('id').primaryKey(),
    taskId: text('task_id').notNull(),
    accountId: text('account_id').notNull(),
    content: text('content').notNull(),
    completed: integer('completed', { mode: 'boolean' }).notNull().default(false),
    sortOrder: integer('sort_order').notNull().default(0),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [index('subtasks_task_idx').on(t.taskId, t.sortOrder, t.id)],
);

export const comments = sqliteTable(
  'comments',
  {
    id: text('id').primaryKey(),
    taskId: text('task_id').notNull(),
    accountId: text('account_id').notNull(),
    agentId: text('agent_id'),
    author: text('author'),
    content: text('content').notNull(),
    createdAt: text('created_at').notNull(),
  },
  (t) => [index('comments_task_idx').on(t.taskId, t.createdAt, t.id)],
);

export const taskLinks = sqliteTable(
  'task_links',
  {
    id: text('id').primaryKey(),
    taskId: text('task_id').notNull(),
    accountId: text('account_id').notNull(),
    kind: text('kind', { enum: ['branch', 'commit', 'pr', 'url'] }).notNull(),
    repo: text('repo'),
    ref: text('ref').notNull(),
    url: text('url'),
    createdByAgentId: text('created_by_agent_id'),
    createdAt: text('created_at').notNull(),
  },
  (t) => [index('task_links_task_idx').on(t.taskId, t.createdAt)],
);

/** Append-only ledger of context changes, one row per key written. */
export const taskContextHistory = sqliteTable(
  'task_context_history',
  {
    id: text('id').primaryKey(),
    taskId: text('task_id').notNull(),
    accountId: text('account_id').notNull(),
    key: text('key').notNull(),
    /** JSON of the new value; null when the key was removed. */
    value: text('value'),
    version: integer('version').notNull(),
    source: text('source', { enum: ['human_stated', 'agent_inferred', 'agent_observed', 'imported'] }).notNull(),
    agentId: text('agent_id'),
    createdAt: text('created_at').notNull(),
  },
  (t) => [index('task_context_history_task_key_idx').on(t.taskId, t.key, t.version)],
);

/** Claim sessions: one row from claim to completion, release or lease expiry. */
export const runs = sqliteTable(
  'runs',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id').notNull(),
    agentId: text('agent_id').notNull(),
    taskId: text('task_id').notNull(),
    claimedAt: text('claimed_at').notNull(),
    claimedAtMs: integer('claimed_at_ms').notNull(),
    endedAt: text('ended_at'),
    outcome: text('outcome', { enum: ['completed', 'released', 'expired'] }),
    durationMs: integer('duration_ms'),
  },
  (t) => [
    index('runs_agent_idx').on(t.agentId, t.claimedAt),
    index('runs_task_open_idx').on(t.taskId, t.endedAt),
    index('runs_account_outcome_idx').on(t.accountId, t.outcome, t.endedAt),
    // The clean-up finds ended runs past their retention (retention/cleanup.ts).
    index('runs_ended_idx').on(t.endedAt),
  ],
);

export const webhooks = sqliteTable(
  'webhooks',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id').notNull(),
    url: text('url').notNull(),
    /** JSON array of event names. */
    events: text('events').notNull(),
    /** Needed in plaintext to sign deliveries; never returned after creation. */
    secret: text('secret').notNull(),
    active: integer('active', { mode: 'boolean' }).notNull().default(true),
    description: text('description'),
    consecutiveFailures: integer('consecutive_failures').notNull().default(0),
    disabledReason: text('disabled_reason'),
    disabledAt: text('disabled_at'),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [index('webhooks_account_idx').on(t.accountId, t.active)],
);

export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    webhookId: text('webhook_id').notNull(),
    accountId: text('account_id').notNull(),
    event: text('event').notNull(),
    /** The exact JSON body sent (so a redelivery signs the same bytes under a new timestamp). */
    payload: text('payload').notNull(),
    status: text('status', { enum: ['pending', 'succeeded', 'retrying', 'failed'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [
    index('webhook_deliveries_webhook_idx').on(t.webhookId, t.createdAt),
    index('webhook_deliveries_status_idx').on(t.status, t.updatedAt),
  ],
);

/**
 * The event outbox: one row per task event, written in the same D1 batch as the change that
 * caused it (so an event exists exactly when its change committed). A relay turns each row
 * into webhook deliveries and rule messages after the answer; a scheduled sweep relays rows the
 * relay never reached. `task` is the task's JSON when the writer knew it before writing (a
 * created or deleted task); otherwise the relay takes it from the write's answer.
 */
export const eventOutbox = sqliteTable(
  'event_outbox',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id').notNull(),
    event: text('event').notNull(),
    agentId: text('agent_id'),
    taskId: text('task_id').notNull(),
    task: text('task'),
    /** JSON `{originEventId, hop}` for an event an automation's action caused. */
    cause: text('cause'),
    createdAt: text('created_at').notNull(),
    relayedAt: text('relayed_at'),
  },
  (t) => [index('event_outbox_unrelayed_idx').on(t.relayedAt, t.createdAt)],
);

/**
 * Keys whose cached principal (access/key-gate.ts) a committed write made stale, recorded by
 * triggers (migration 0020) in the write's own transaction, whoever wrote. The writer tells the
 * gates at once; the scheduled sweep tells them again and deletes the rows, so a lost call is
 * made good within a minute and the gates never need to re-read on a timer.
 */
export const principalForgets = sqliteTable('principal_forgets', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  keyHash: text('key_hash').notNull(),
  /** The key's account, whose gate may hold it (null in rows written before gates were per account). */
  accountId: text('account_id'),
});

/** Every delivery attempt, for the delivery log. */
export const webhookAttempts = sqliteTable(
  'webhook_attempts',
  {
    id: text('id').primaryKey(),
    deliveryId: text('delivery_id').notNull(),
    webhookId: text('webhook_id').notNull(),
    attempt: integer('attempt').notNull(),
    statusCode: integer('status_code'),
    error: text('error'),
    durationMs: integer('duration_ms').notNull(),
    createdAt: text('created_at').notNull(),
  },
  (t) => [index('webhook_attempts_delivery_idx').on(t.deliveryId, t.attempt)],
);

/** Stored first answers for Idempotency-Key replays (24 h). */
export const idempotencyKeys = sqliteTable(
  'idempotency_keys',
  {
    /** HMAC of agent id + ':' + the client's key (the key itself is not stored). */
    scopeKey: text('scope_key').primaryKey(),
    requestHash: text('request_hash').notNull(),
    status: integer('status'),
    body: text('body'),
    headers: text('headers'),
    createdAt: text('created_at').notNull(),
    expiresAt: text('expires_at').notNull(),
  },
  (t) => [index('idempotency_keys_expires_idx').on(t.expiresAt)],
);

/**
 * Exact task counts per account and dimension (`all`, `completed:0`, `priority:3`, `project:<id>`,
 * `assigned:<id>`, `label:<name>`, `agent:<id>` = tasks a worker sees), kept by triggers on
 * tasks and task_labels (migrations/0001_task_counters.sql), so `X-Total-Count` never counts rows.
 */
export const taskCounts = sqliteTable(
  'task_counts',
  {
    accountId: text('account_id').notNull(),
    dim: text('dim').notNull(),
    n: integer('n').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.dim] })],
);

/** Monthly usage counters per account (plan quotas). */
export const usageCounters = sqliteTable(
  'usage_counters',
  {
    accountId: text('account_id').notNull(),
    /** YYYY-MM. */
    period: text('period').notNull(),
    tasksCreated: integer('tasks_created').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.period] })],
);

/** Automation rules: when `event` fires and every condition matches, the actions run (src/automations). */
export const automations = sqliteTable(
  'automations',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id').notNull(),
    name: text('name').notNull(),
    event: text('event').notNull(),
    /** JSON array of {field, op, value?}. */
    conditions: text('conditions').notNull().default('[]'),
    /** JSON array of {type, ...}. */
    actions: text('actions').notNull(),
    active: integer('active', { mode: 'boolean' }).notNull().default(true),
    /** The admin that made the rule; its actions are written in this agent's name. */
    createdByAgentId: text('created_by_agent_id').notNull(),
    runCount: integer('run_count').notNull().default(0),
    /** Consecutive failed runs; LIMIT_AUTOMATION_FAILURES_BEFORE_DISABLE of them deactivate the rule. */
    failureCount: integer('failure_count').notNull().default(0),
    lastRunAt: text('last_run_at'),
    disabledReason: text('disabled_reason'),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [index('automations_account_event_idx').on(t.accountId, t.event, t.active)],
);

/** The run log: one row per rule per event it matched, with each action's outcome. */
export const automationRuns = sqliteTable(
  'automation_runs',
  {
    id: text('id').primaryKey(),
    ruleId: text('rule_id').notNull(),
    accountId: text('account_id').notNull(),
    eventId: text('event_id').notNull(),
    event: text('event').notNull(),
    taskId: text('task_id'),
    hop: integer('hop').notNull(),
    status: text('status', { enum: ['succeeded', 'failed', 'skipped'] }).notNull(),
    /** JSON array of {index, type, outcome, detail?}. */
    actions: text('actions').notNull(),
    createdAt: text('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('automation_runs_rule_event_unique').on(t.ruleId, t.eventId),
    index('automation_runs_rule_idx').on(t.ruleId, t.createdAt),
    index('automation_runs_created_idx').on(t.createdAt),
  ],
);

/**
 * One row per applied action, keyed by (event, rule, action index) and written in the same
 * batch as the effect: a redelivered event hits the key and applies nothing twice.
 */
export const automationEffects = sqliteTable(
  'automation_effects',
  {
    key: text('key').primaryKey(),
    /** The event that started the cascade; at most LIMIT_AUTOMATION_ACTIONS_PER_EVENT rows each. */
    originEventId: text('origin_event_id').notNull(),
    ruleId: text('rule_id').notNull(),
    accountId: text('account_id').notNull(),
    /** The task a create_task or delegate action made (a rule never reacts to it). */
    createdTaskId: text('created_task_id'),
    createdAt: text('created_at').notNull(),
  },
  (t) => [
    index('automation_effects_origin_idx').on(t.originEventId),
    index('automation_effects_created_task_idx').on(t.createdTaskId),
    /** The clean-up's read: effects that record no live task a rule made. */
    index('automation_effects_expiry_idx').on(t.createdAt).where(sql`created_task_id is null`),
  ],
);

/** Inbound connectors: signed public endpoints that turn external events into tasks (src/ingress). */
export const ingressSources = sqliteTable(
  'ingress_sources',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id').notNull(),
    name: text('name').notNull(),
    /** Needed in plaintext to verify signatures; shown once, on creation and rotation. */
    secret: text('secret').notNull(),
    /** JSON {content, description?, priority?, labels?, dedupe_key?}. */
    template: text('template').notNull(),
    /** JSON array of {path, op, value?}. */
    filters: text('filters').notNull().default('[]'),
    defaultProjectId: text('default_project_id'),
    defaultAssigneeAgentId: text('default_assignee_agent_id'),
    active: integer('active', { mode: 'boolean' }).notNull().default(true),
    /** The admin that made the source: created tasks are written in its name. */
    createdByAgentId: text('created_by_agent_id').notNull(),
    deliveryCount: integer('delivery_count').notNull().default(0),
    lastDeliveryAt: text('last_delivery_at'),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [index('ingress_sources_account_idx').on(t.accountId, t.createdAt)],
);

/** The delivery log: outcome, body hash and size; never the payload. */
export const ingressDeliveries = sqliteTable(
  'ingress_deliveries',
  {
    id: text('id').primaryKey(),
    sourceId: text('source_id').notNull(),
    accountId: text('account_id').notNull(),
    outcome: text('outcome').notNull(),
    statusCode: integer('status_code').notNull(),
    bodySha256: text('body_sha256').notNull(),
    bodyBytes: integer('body_bytes').notNull(),
    /** SHA-256 of the signature header, so the same signed request is refused as a replay. */
    signatureSha256: text('signature_sha256'),
    taskId: text('task_id'),
    createdAt: text('created_at').notNull(),
  },
  (t) => [
    index('ingress_deliveries_source_idx').on(t.sourceId, t.createdAt),
    index('ingress_deliveries_signature_idx').on(t.sourceId, t.signatureSha256),
    index('ingress_deliveries_created_idx').on(t.createdAt),
  ],
);

/** Rendered dedupe keys per source (hashed): a retried delivery finds its task here. */
export const ingressDedupeKeys = sqliteTable(
  'ingress_dedupe_keys',
  {
    sourceId: text('source_id').notNull(),
    keySha256: text('key_sha256').notNull(),
    taskId: text('task_id').notNull(),
    createdAt: text('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.sourceId, t.keySha256] })],
);

/** Recurring task templates; the scheduler (src/recurrences/spawn.ts) turns each occurrence into a task. */
export const recurrences = sqliteTable(
  'recurrences',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id').notNull(),
    content: text('content').notNull(),
    description: text('description'),
    projectId: text('project_id'),
    /** JSON array of strings, copied onto each spawned task. */
    labels: text('labels').notNull().default('[]'),
    priority: integer('priority').notNull().default(1),
    assignedToAgentId: text('assigned_to_agent_id'),
    createdByAgentId: text('created_by_agent_id').notNull(),
    ruleType: text('rule_type', { enum: ['daily', 'weekly', 'monthly', 'yearly'] }).notNull(),
    interval: integer('interval').notNull().default(1),
    timezone: text('timezone').notNull().default('UTC'),
    anchorDay: integer('anchor_day'),
    anchorMonth: integer('anchor_month'),
    anchorWeekday: integer('anchor_weekday'),
    /** Local `HH:MM:SS` each occurrence falls at, so a time moved by a DST gap returns the next day. */
    timeOfDay: text('time_of_day').notNull().default('00:00:00'),
    nextDueAt: text('next_due_at').notNull(),
    active: integer('active', { mode: 'boolean' }).notNull().default(true),
    skipIfOpen: integer('skip_if_open', { mode: 'boolean' }).notNull().default(false),
    /** The task the last occurrence spawned (or tried to): skip_if_open checks it by primary key. */
    lastTaskId: text('last_task_id'),
    lastSpawnedAt: text('last_spawned_at'),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [
    index('recurrences_account_idx').on(t.accountId, t.createdAt, t.id),
    /** The scheduler's read: active recurrences in due order. */
    index('recurrences_due_idx').on(t.active, t.nextDueAt),
  ],
);

/** Single-use answer links mailed when a task waits on a human decision. */
export const decisionLinks = sqliteTable(
  'decision_links',
  {
    id: text('id').primaryKey(),
    accountId: text('account_id').notNull(),
    taskId: text('task_id').notNull(),
    /** HMAC of the token under KEY_PEPPER; the token itself is only in the email. */
    tokenHash: text('token_hash').notNull(),
    email: text('email').notNull(),
    question: text('question'),
    /** JSON array of option strings from the state detail's OPTIONS: line. */
    options: text('options').notNull().default('[]'),
    expiresAt: text('expires_at').notNull(),
    usedAt: text('used_at'),
    /** The comment the answer became: set by the one POST that wins, which the rest of its batch checks. */
    commentId: text('comment_id'),
    createdAt: text('created_at').notNull(),
  },
  (t) => [uniqueIndex('decision_links_hash_unique').on(t.tokenHash), index('decision_links_task_idx').on(t.taskId, t.createdAt)],
);

/** Single-use magic links by which a human signs in to the dashboard (src/sign-in). */
export const signInTokens = sqliteTable(
  'sign_in_tokens',
  {
    id: text('id').primaryKey(),
    userId: text('user_id').notNull(),
    accountId: text('account_id').notNull(),
    /** HMAC of the token under KEY_PEPPER; the token itself is only in the email. */
    tokenHash: text('token_hash').notNull(),
    expiresAt: text('expires_at').notNull(),
    usedAt: text('used_at'),
    createdAt: text('created_at').notNull(),
  },
  (t) => [uniqueIndex('sign_in_tokens_hash_unique').on(t.tokenHash)],
);

/** Dashboard sessions of humans: the cookie holds a random id whose HMAC is the key here. */
export const humanSessions = sqliteTable(
  'human_sessions',
  {
    id: text('id').primaryKey(),
    tokenHash: text('token_hash').notNull(),
    userId: text('user_id').notNull(),
    accountId: text('account_id').notNull(),
    expiresAt: text('expires_at').notNull(),
    revokedAt: text('revoked_at'),
    createdAt: text('created_at').notNull(),
  },
  (t) => [uniqueIndex('human_sessions_hash_unique').on(t.tokenHash), index('human_sessions_user_idx').on(t.userId)],
);
