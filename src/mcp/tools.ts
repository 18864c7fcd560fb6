/**
 * The MCP tools: the names and input parameters of the `@delega-dev/mcp` server, each naming
 * its operation in the authorisation table and calling the same domain functions (and side
 * effects: webhook events, queue wake-ups) as its REST route. Arguments are checked with the
 * REST routes' own body schemas, so both surfaces accept and refuse the same values.
 *
 * A feature adds its tools by exporting them (`defineTool`) and spreading them into TOOLS.
 */
import { z } from 'zod';
import { database, type Db } from '../db/client';
import { authorize, isAllowed, type Operation, type Principal } from '../access/policy';
import { createAgent, deleteAgent, listAgents, updateAgent } from '../accounts/agents';
import { LEASE_SECONDS } from '../work-queue/claims';
import { findDuplicates } from '../tasks/dedup';
import { taskChain } from '../tasks/delegation';
import { fleetAttention } from '../work-queue/fleet';
import { listProjects } from '../accounts/projects';
import { taskStats } from '../tasks/stats';
import { contextHistory, getContext, patchContext, CONTEXT_SOURCES } from '../tasks/task-context';
import { taskJson, type TaskJson } from '../tasks/task-json';
import { LINK_KINDS, listLinks } from '../tasks/task-links';
import { listTasks } from '../tasks/task-list';
import { EVIDENCE_KINDS, getTask } from '../tasks/tasks';
import { usage, usageLimitsFor } from '../accounts/usage';
import { createWebhook, deleteWebhook, listWebhooks } from '../webhooks/webhooks';
import type { Env } from '../env';
import { isDevelopment, keyPepper, limit } from '../platform/config';
import { ApiError } from '../platform/errors';
import { principalCache } from '../access/key-gate';
import { CreateAgentBody, UpdateAgentBody } from '../accounts/agent-routes';
import { CreateCommentBody } from '../tasks/comment-routes';
import { validationDetails } from '../access/router';
import { ClaimNextBody, HeartbeatBody, parseLabels, ReleaseBody, StateBody } from '../work-queue/routes';
import { CreateLinkBody } from '../tasks/link-routes';
import { CompleteBody, CreateTaskBody, DedupBody, DelegateBody, UpdateTaskBody } from '../tasks/routes';
import { CreateWebhookBody } from '../webhooks/routes';
import { TASK_EVENTS } from '../webhooks/events';
import type { WaitUntil } from '../events/after-commit';
import {
  addCommentChange,
  addLinkChange,
  completeTaskChange,
  createTaskChange,
  delegateTaskChange,
  deleteTaskChange,
  updateTaskChange,
} from '../tasks/use-cases';
import { claimNextChange, claimTaskChange, heartbeatChange, releaseChange, setStateChange } from '../work-queue/use-cases';
import { ACTION_TYPES, CONDITION_FIELDS, CONDITION_OPS } from '../automations/rules';
import { CreateAutomationBody, UpdateAutomationBody } from '../automations/routes';
import { createAutomation, deleteAutomation, listAutomations, updateAutomation } from '../automations/store';
import { CreateIngressSourceBody, UpdateIngressSourceBody } from '../ingress/routes';
import { createSource, deleteSource, listSources, updateSource, type IngressSourceJson } from '../ingress/sources';
import { searchContext } from '../recall/search';
import { createRecurrence, deleteRecurrence, listRecurrences, recurrenceJson, updateRecurrence } from '../recurrences/recurrences';
import { CreateRecurrenceBody, UpdateRecurrenceBody } from '../recurrences/routes';
import * as format from './format';

/** What a tool runs with: the caller and the Worker's bindings. */
export interface ToolContext {
  env: Env;
  ctx: WaitUntil;
  principal: Principal;
  db: Db;
}

export interface Tool<Shape extends z.ZodRawShape = z.ZodRawShape> {
  name: string;
  description: string;
  /** The operation of the authorisation table; a key that may not perform it does not see the tool. */
  operation: Operation;
  input: Shape;
  run(t: ToolContext, args: z.infer<z.ZodObject<Shape>>): Promise<string>;
}

export function defineTool<Shape extends z.ZodRawShape>(tool: Tool<Shape>): Tool {
  return tool as unknown as Tool;
}

export function toolContext(env: Env, ctx: WaitUntil, principal: Principal): ToolContext {
  return { env, ctx, principal, db: database(env.DB) };
}

/** The REST body schema's verdict on a tool's arguments: a 400 with per-field details, like the route's. */
function checked<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const details = validationDetails(result.error);
  throw new ApiError({
    status: 400,
    code: 'VALIDATION_FAILED',
    message: `Invalid arguments: ${details.map((d) => `${d.field}: ${d.message}`).join('; ')}`,
    details,
  });
}

/** Tools take ids as strings or numbers (the local server's schema); the domain's ids are strings. */
const id = z.union([z.string(), z.number()]);
const idOf = (value: string | number) => String(value);
const optionalId = (value: string | number | null | undefined) => (value === undefined || value === null ? value : String(value));

/** A tool's change: the same use-cases (and side effects) as the routes. */
const change = (t: ToolContext) => ({ fx: { env: t.env, ctx: t.ctx }, principal: t.principal });
/** Decision mail links from a tool point at PUBLIC_BASE_URL (there is no request origin to use). */
const stateReport = (t: ToolContext) => ({ linkBase: t.env.PUBLIC_BASE_URL ? t.env.PUBLIC_BASE_URL.replace(/\/+$/, '') : null });

const SESSION_STATES = ['working', 'waiting_input', 'errored'] as const;
const priority = z.number().int().min(1).max(4);
const leaseSeconds = z.number().int().min(LEASE_SECONDS.min).max(LEASE_SECONDS.max);

// ── tasks ──

const listTasksTool = defineTool({
  name: 'list_tasks',
  operation: 'tasks.list',
  description:
    'List tasks, newest first (up to 100). Workers see tasks they created, are assigned, claimed or completed; coordinators and admins see every task of the account, so act only on tasks assigned to you or that you claim. Filter by project, label, due date, completion or claim. At the start of a session call it with completed:false, then get_task_context on your tasks to pick up where you left off.',
  input: {
    project_id: id.optional().describe('Only tasks of this project'),
    label: z.string().optional().describe('Only tasks carrying this label'),
    due: z.enum(['today', 'upcoming', 'overdue']).optional().describe('Only tasks due today, upcoming or overdue'),
    completed: z.boolean().optional().describe('true: completed tasks only; false: open tasks only'),
    claimed: z.boolean().optional().describe('true: only tasks under a live claim'),
  },
  async run(t, a) {
    const page = await listTasks(t.db, t.principal, {
      filters: {
        project_id: optionalId(a.project_id) ?? undefined,
        labels: a.label ? [a.label] : undefined,
        due: a.due,
        completed: a.completed,
        claimed: a.claimed,
        limit: 100,
        offset: 0,
      },
      now: Date.now(),
    });
    return format.formatTaskList(page.tasks, page.hasMore);
  },
});

const getTaskTool = defineTool({
  name: 'get_task',
  operation: 'tasks.read',
  description: 'Read one task in full: status, claim and lease, handoff note, delegation, evidence, context version and links.',
  input: { task_id: id.describe('The task id (from list_tasks)') },
  async run(t, a) {
    const [row, links] = await Promise.all([getTask(t.db, t.principal, idOf(a.task_id)), listLinks(t.db, t.principal, idOf(a.task_id))]);
    return format.formatTaskDetail(taskJson(row, Date.now()), links);
  },
});

const createTaskTool = defineTool({
  name: 'create_task',
  operation: 'tasks.create',
  description: 'Create a task. Call find_duplicate_tasks first to avoid repeating work that already exists.',
  input: {
    content: z.string().describe('Title of the task'),
    description: z.string().optional().describe('Details'),
    project_id: id.optional().describe('Project id'),
    labels: z.array(z.string()).optional().describe('Labels'),
    priority: priority.optional().describe('1 normal, 2 medium, 3 high, 4 urgent'),
    due_date: z.string().optional().describe('Due date, YYYY-MM-DD'),
    evidence_policy: z
      .enum(['required'])
      .optional()
      .describe("'required': completing needs structured evidence (commit, PR, CI check, ...)"),
  },
  async run(t, a) {
    const input = checked(CreateTaskBody, { ...a, project_id: optionalId(a.project_id) });
    const task = await createTaskChange(change(t), input);
    return `Task created:\n\n${format.formatTaskDetail(task)}`;
  },
});

/** The update use-case of PUT /tasks/{id}: events for what changed, and a wake-up when the assignee changed. */
const updateTaskUseCase = (t: ToolContext, taskId: string, input: z.output<typeof UpdateTaskBody>): Promise<TaskJson> =>
  updateTaskChange(change(t), taskId, input);

const updateTaskTool = defineTool({
  name: 'update_task',
  operation: 'tasks.update',
  description:
    'Change fields of a task; only the fields given change. Only its creator or assignee (an admin: any task) may change it; a claim is not enough.',
  input: {
    task_id: id.describe('The task id'),
    content: z.string().optional().describe('New title'),
    description: z.string().optional().describe('New description'),
    labels: z.array(z.string()).optional().describe('New labels (replace the old ones)'),
    priority: z.number().int().optional().describe('New priority, 1-4'),
    due_date: z.string().optional().describe('New due date, YYYY-MM-DD'),
    project_id: id.optional().describe('Move to this project'),
    assigned_to_agent_id: z.union([z.string(), z.number(), z.null()]).optional().describe('Assign to this agent, or null to unassign'),
    evidence_policy: z
      .union([z.enum(['required']), z.null()])
      .optional()
      .describe("'required', or null to clear (clearing a required policy needs an admin key)"),
  },
  async run(t, { task_id, ...fields }) {
    const input = checked(UpdateTaskBody, {
      ...fields,
      project_id: optionalId(fields.project_id),
      assigned_to_agent_id: optionalId(fields.assigned_to_agent_id),
    });
    return `Task updated:\n\n${format.formatTaskDetail(await updateTaskUseCase(t, idOf(task_id), input))}`;
  },
});

const assignTaskTool = defineTool({
  name: 'assign_task',
  operation: 'tasks.update',
  description: 'Assign a task to an agent, or unassign it with agent_id null. For a handoff that should stay on record, use delegate_task.',
  input: {
    task_id: id.describe('The task id'),
    agent_id: z.union([z.string(), z.number(), z.null()]).describe('The agent id, or null to unassign'),
  },
  async run(t, a) {
    const input = checked(UpdateTaskBody, { assigned_to_agent_id: optionalId(a.agent_id) });
    const task = await updateTaskUseCase(t, idOf(a.task_id), input);
    return `Task ${a.agent_id === null ? 'unassigned' : `assigned to ${task.assigned_to_agent_id}`}:\n\n${format.formatTaskDetail(task)}`;
  },
});

const delegateTaskTool = defineTool({
  name: 'delegate_task',
  operation: 'tasks.delegate',
  description:
    "Delegate part of a task: creates a child task linked to it, and the parent's status becomes 'delegated' until its children are done. Use this rather than assign_task for handoffs between agents, so the chain is recorded.",
  input: {
    task_id: id.describe('The parent task id'),
    content: z.string().describe('Title of the child task'),
    description: z.string().optional().describe('Details'),
    project_id: id.optional().describe('Project id'),
    labels: z.array(z.string()).optional().describe('Labels'),
    priority: priority.optional().describe('1 normal, 2 medium, 3 high, 4 urgent'),
    due_date: z.string().optional().describe('Due date, YYYY-MM-DD'),
    assigned_to_agent_id: id.optional().describe('The agent to do the child task'),
  },
  async run(t, { task_id, ...fields }) {
    const input = checked(DelegateBody, {
      ...fields,
      project_id: optionalId(fields.project_id),
      assigned_to_agent_id: optionalId(fields.assigned_to_agent_id),
    });
    const task = await delegateTaskChange(change(t), idOf(task_id), input);
    return `Task delegated; the child task:\n\n${format.formatTaskDetail(task)}`;
  },
});

const getTaskChainTool = defineTool({
  name: 'get_task_chain',
  operation: 'tasks.chain',
  description: 'The whole delegation chain of a task: its root and every descendant, by depth, with their states.',
  input: { task_id: id.describe('Any task id in the chain') },
  async run(t, a) {
    const now = Date.now();
    const chain = await taskChain(t.db, t.principal, idOf(a.task_id));
    return format.formatChain(
      chain.rootId,
      chain.rows.map((r) => taskJson(r, now)),
    );
  },
});

const completeTaskTool = defineTool({
  name: 'complete_task',
  operation: 'tasks.complete',
  description:
    "Complete a task (this ends your claim). Attach evidence of the work: commit, pr, ci_check, deploy_sha, artifact_url or command_output. Tasks with evidence_policy 'required' need at least one item that is not command_output. Evidence is recorded as given, not checked.",
  input: {
    task_id: id.describe('The task id'),
    evidence: z
      .array(
        z.object({
          kind: z.enum(EVIDENCE_KINDS).describe('What the reference is'),
          ref: z.string().max(500).describe('Commit SHA, PR URL or number, CI run URL, deploy SHA, artifact URL or command output'),
          summary: z.string().max(500).optional().describe('One line on what it shows'),
        }),
      )
      .max(5)
      .optional()
      .describe('Proof the work happened'),
  },
  async run(t, a) {
    const body = checked(CompleteBody, { evidence: a.evidence });
    const { task } = await completeTaskChange(change(t), idOf(a.task_id), body.evidence ?? []);
    return `Task ${task.id} completed.\n\n${format.formatTaskDetail(task)}`;
  },
});

const deleteTaskTool = defineTool({
  name: 'delete_task',
  operation: 'tasks.delete',
  description:
    'Delete a task for good, with its comments, context history and links. Only its creator or assignee (an admin: any task) may.',
  input: { task_id: id.describe('The task id') },
  async run(t, a) {
    await deleteTaskChange(change(t), idOf(a.task_id));
    return `Task ${idOf(a.task_id)} deleted.`;
  },
});

const findDuplicatesTool = defineTool({
  name: 'find_duplicate_tasks',
  operation: 'tasks.dedup',
  description: 'Find open tasks similar to a proposed one (TF-IDF cosine similarity). Call it before create_task.',
  input: {
    content: z.string().describe('The proposed task'),
    threshold: z.number().min(0).max(1).optional().describe('Similarity from 0 to 1 (default 0.6)'),
  },
  async run(t, a) {
    const body = checked(DedupBody, a);
    return format.formatDuplicates(await findDuplicates(t.db, t.principal, { content: body.content, threshold: body.threshold ?? 0.6 }));
  },
});

// ── links, comments, context ──

const linkTaskTool = defineTool({
  name: 'link_task',
  operation: 'tasks.links.write',
  description: 'Attach a branch, commit, pull request or URL to a task, so where the work lives travels with it.',
  input: {
    task_id: id.describe('The task id'),
    kind: z.enum(LINK_KINDS).describe('branch, commit, pr or url'),
    repo: z.string().optional().describe('Repository, owner/name'),
    ref: z.string().describe('Branch name, commit SHA, PR number or URL'),
    url: z.string().optional().describe('A URL for the link'),
  },
  async run(t, { task_id, ...fields }) {
    const input = checked(CreateLinkBody, fields);
    const { task, link } = await addLinkChange(change(t), idOf(task_id), input);
    return `Linked to task ${task.id}: ${format.formatLink(link)}`;
  },
});

const listTaskLinksTool = defineTool({
  name: 'list_task_links',
  operation: 'tasks.links.read',
  description: 'The branches, commits, pull requests and URLs attached to a task.',
  input: { task_id: id.describe('The task id') },
  async run(t, a) {
    return format.formatLinks(idOf(a.task_id), await listLinks(t.db, t.principal, idOf(a.task_id)));
  },
});

const addCommentTool = defineTool({
  name: 'add_comment',
  operation: 'tasks.comments.write',
  description: 'Comment on a task (completed tasks too). Coordinators may comment on any task of the account.',
  input: {
    task_id: id.describe('The task id'),
    content: z.string().describe('The comment'),
    author: z.string().optional().describe('Display name (default: your agent name)'),
  },
  async run(t, { task_id, ...fields }) {
    const input = checked(CreateCommentBody, fields);
    const { task, comment } = await addCommentChange(change(t), idOf(task_id), input);
    return `Comment ${comment.id} added to task ${task.id} by ${comment.author ?? t.principal.agentName}:\n  "${comment.content}"`;
  },
});

const getTaskContextTool = defineTool({
  name: 'get_task_context',
  operation: 'tasks.context.read',
  description:
    "Read a task's saved context: the state, decisions and notes kept across sessions. Call it when resuming a task; write back with update_task_context before you stop.",
  input: {
    task_id: id.describe('The task id'),
    include_provenance: z.boolean().optional().describe('Also say who wrote each key, from which source, at which version'),
  },
  async run(t, a) {
    return format.formatContext(
      idOf(a.task_id),
      await getContext(t.db, t.principal, { taskId: idOf(a.task_id), withProvenance: a.include_provenance ?? false }),
    );
  },
});

const updateTaskContextTool = defineTool({
  name: 'update_task_context',
  operation: 'tasks.context.write',
  description:
    "Merge keys into a task's context (other keys stay; a key set to null is removed). Pass expected_version from get_task_context to guard against another writer: on a conflict you get the current context to merge with.",
  input: {
    task_id: id.describe('The task id'),
    context: z.record(z.string(), z.unknown()).describe('Keys to merge into the context'),
    expected_version: z.number().int().min(0).optional().describe('The version you read; the write fails if the context changed since'),
    source: z.enum(CONTEXT_SOURCES).optional().describe('Where this knowledge comes from (default agent_inferred)'),
  },
  async run(t, a) {
    const taskId = idOf(a.task_id);
    const result = await patchContext(t.db, t.principal, {
      taskId,
      patch: a.context,
      expectedVersion: a.expected_version,
      source: a.source ?? 'agent_inferred',
      maxBytes: limit(t.env, 'CONTEXT_BYTES'),
      now: Date.now(),
    });
    return format.formatContextUpdate(taskId, result);
  },
});

const HISTORY_PAGE = 100;

const getContextHistoryTool = defineTool({
  name: 'get_context_history',
  operation: 'tasks.context.read',
  description:
    "The append-only ledger of a task's context: every write of every key, with its author, source and version. key narrows it to one key.",
  input: {
    task_id: id.describe('The task id'),
    key: z.string().optional().describe('Only this context key'),
  },
  async run(t, a) {
    const page = await contextHistory(t.db, t.principal, { taskId: idOf(a.task_id), key: a.key, page: { limit: HISTORY_PAGE } });
    return format.formatContextHistory(idOf(a.task_id), page.entries, page.next_cursor !== null);
  },
});

// ── the work queue ──

const claimTaskTool = defineTool({
  name: 'claim_task',
  operation: 'queue.claim_next',
  description:
    'Claim a task for yourself alone. Without task_id: the best claimable task (open, unclaimed, unassigned or assigned to you; highest priority, then oldest). With task_id: that task (fails if completed, assigned elsewhere or under a live claim). The claim is a lease (default 300 s): keep it with heartbeat_task, hand it back with release_task, or finish with complete_task.',
  input: {
    task_id: id.optional().describe('Claim this task rather than the next one from the queue'),
    project_id: id.optional().describe('Queue claim only: from this project'),
    labels: z.array(z.string()).optional().describe('Queue claim only: tasks carrying all these labels'),
    lease_seconds: leaseSeconds
      .optional()
      .describe(`Lease in seconds (${LEASE_SECONDS.min}-${LEASE_SECONDS.max}, default ${LEASE_SECONDS.default})`),
  },
  async run(t, a) {
    const p = t.principal;
    if (a.task_id !== undefined) {
      if (!isAllowed(p, 'queue.claim'))
        throw new ApiError({ status: 403, code: 'INSUFFICIENT_ROLE', message: 'This key may not claim a given task.' });
      return claimedText(
        await claimTaskChange(change(t), { taskId: idOf(a.task_id), leaseSeconds: a.lease_seconds ?? LEASE_SECONDS.default }),
      );
    }
    const body = checked(ClaimNextBody, { labels: a.labels, project_id: optionalId(a.project_id), lease_seconds: a.lease_seconds });
    const task = await claimNextChange(change(t), {
      labels: parseLabels(body.labels),
      projectId: body.project_id ?? null,
      leaseSeconds: body.lease_seconds ?? LEASE_SECONDS.default,
      waitSeconds: 0,
    });
    if (!task) return 'No claimable task in the queue right now.';
    return claimedText(task);
  },
});

function claimedText(task: TaskJson): string {
  return `Claimed task ${task.id}; the lease runs until ${task.lease_expires_at}. Extend it with heartbeat_task while you work, finish with complete_task, or hand it back with release_task.\n\n${format.formatTaskDetail(task)}`;
}

const heartbeatTaskTool = defineTool({
  name: 'heartbeat_task',
  operation: 'queue.heartbeat',
  description:
    'Extend the lease of a task you hold, before it runs out, and optionally report your session state (working, waiting_input, errored). Fails if you no longer hold a live claim: then claim again rather than carry on.',
  input: {
    task_id: id.describe('The claimed task id'),
    lease_seconds: leaseSeconds.optional().describe(`New lease from now, in seconds (default ${LEASE_SECONDS.default})`),
    state: z.enum(SESSION_STATES).optional().describe('Your session state'),
    detail: z.string().max(500).optional().describe('What the state is about (needs state)'),
  },
  async run(t, a) {
    const body = checked(HeartbeatBody, { lease_seconds: a.lease_seconds, state: a.state, detail: a.detail });
    const task = await heartbeatChange(change(t), { taskId: idOf(a.task_id), input: body, ...stateReport(t) });
    const state = task.session_state
      ? ` Session state: ${task.session_state}${task.session_state_detail ? ` ("${task.session_state_detail}")` : ''}.`
      : '';
    return `Lease on task ${task.id} extended until ${task.lease_expires_at}.${state}`;
  },
});

const setTaskStateTool = defineTool({
  name: 'set_task_state',
  operation: 'queue.state',
  description:
    'Report the session state of a task you hold (working, waiting_input, errored) without extending its lease, so people and coordinators see why it is held. Fails if you no longer hold a live claim.',
  input: {
    task_id: id.describe('The claimed task id'),
    state: z.enum(SESSION_STATES).describe('Your session state'),
    detail: z.string().max(500).optional().describe("What it is about, e.g. 'needs the production API key'"),
  },
  async run(t, a) {
    const body = checked(StateBody, { state: a.state, detail: a.detail });
    const task = await setStateChange(change(t), { taskId: idOf(a.task_id), input: body, ...stateReport(t) });
    return `Task ${task.id} session state: ${task.session_state}${task.session_state_detail ? ` ("${task.session_state_detail}")` : ''}. The lease is unchanged and runs until ${task.lease_expires_at}.`;
  },
});

const releaseTaskTool = defineTool({
  name: 'release_task',
  operation: 'queue.release',
  description:
    'Hand a task you hold back to the queue without completing it; it is claimable again at once. Leave a handoff note saying where you stopped, so the next agent continues instead of starting over (without one, your last session-state detail is kept).',
  input: {
    task_id: id.describe('The claimed task id'),
    handoff: z.string().max(500).optional().describe('Where you left off and why you stopped'),
  },
  async run(t, a) {
    const body = checked(ReleaseBody, { handoff: a.handoff });
    const task = await releaseChange(change(t), idOf(a.task_id), body);
    return `Task ${task.id} released to the queue${task.handoff_note ? ` with the handoff note "${task.handoff_note}"` : ''}.`;
  },
});

const fleetAttentionTool = defineTool({
  name: 'fleet_attention',
  operation: 'fleet.attention',
  description:
    'What needs a coordinator: expired claims of silent agents, live claims without heartbeats, errored and input-blocked tasks, overdue tasks and tasks reopened again and again. Coordinators and admins see the whole account, workers the tasks they are involved in. Read-only.',
  input: {},
  async run(t) {
    return format.formatAttention(await fleetAttention(t.db, t.principal, Date.now()));
  },
});

// ── account ──

const getUsageTool = defineTool({
  name: 'get_usage',
  operation: 'account.usage',
  description: "The plan, this month's task count against its quota, the rate limit and the size limits.",
  input: {},
  async run(t) {
    const u = await usage(t.db, t.principal, { limits: usageLimitsFor(t.env, t.principal.plan), now: Date.now() });
    return format.formatUsage(u);
  },
});

const getStatsTool = defineTool({
  name: 'get_stats',
  operation: 'account.stats',
  description: 'Task statistics over the tasks you can see: totals, completed today, due today, overdue, per project.',
  input: {},
  async run(t) {
    return format.formatStats(await taskStats(t.db, t.principal, Date.now()));
  },
});

const listProjectsTool = defineTool({
  name: 'list_projects',
  operation: 'projects.list',
  description: 'List the projects you can use.',
  input: {},
  async run(t) {
    return format.formatProjects(await listProjects(t.db, t.principal));
  },
});

// ── agents ──

const ROLES = ['worker', 'coordinator', 'admin'] as const;

const listAgentsTool = defineTool({
  name: 'list_agents',
  operation: 'agents.list',
  description: "The account's agents with their ids, roles and state, to resolve the agent ids on tasks.",
  input: {},
  async run(t) {
    return format.formatAgents(await listAgents(t.db, t.principal));
  },
});

const registerAgentTool = defineTool({
  name: 'register_agent',
  operation: 'agents.create',
  description:
    'Register a new agent of the account (admin). Its API key is shown once, and masked here so it does not stay in transcripts; mint a usable key with POST /v1/agents/{id}/rotate-key over the REST API.',
  input: {
    name: z.string().describe("Unique agent name, e.g. 'researcher'"),
    display_name: z.string().optional().describe("Human-readable name, e.g. 'Research Bot'"),
    description: z.string().optional().describe('What the agent does'),
    role: z
      .enum(ROLES)
      .optional()
      .describe('worker (its own tasks; the default), coordinator (sees and comments on every task), admin (manages the account)'),
    permissions: z.array(z.string()).optional().describe('Not supported here: choose a role'),
  },
  async run(t, { permissions, ...fields }) {
    if (permissions?.length) {
      throw new ApiError({
        status: 400,
        code: 'VALIDATION_FAILED',
        message: 'Invalid arguments: permissions: fine-grained permissions are not supported; choose a role (worker, coordinator or admin)',
        details: [{ field: 'permissions', message: 'Not supported; choose a role' }],
      });
    }
    const input = checked(CreateAgentBody, fields);
    const agent = await createAgent(t.db, t.principal, {
      pepper: keyPepper(t.env),
      input,
      maxAgents: limit(t.env, 'AGENTS_PER_ACCOUNT'),
      now: Date.now(),
    });
    const key = agent.api_key ? `\n  API key: ${format.maskSecret(agent.api_key)} (masked; shown only once)` : '';
    return `Agent registered:\n\n${format.formatAgent(agent)}${key}\n\nTo give the agent a key it can use, rotate it over the REST API: POST /v1/agents/${agent.id}/rotate-key.`;
  },
});

const setAgentRoleTool = defineTool({
  name: 'set_agent_role',
  operation: 'agents.manage',
  description: "Set an agent's role (admin): worker, coordinator or admin.",
  input: {
    agent_id: id.describe('The agent id'),
    role: z.enum(ROLES).describe('The new role'),
  },
  async run(t, a) {
    const input = checked(UpdateAgentBody, { role: a.role });
    const agent = await updateAgent(t.db, t.principal, { cache: principalCache(t.env), agentId: idOf(a.agent_id), input, now: Date.now() });
    return `Role updated:\n\n${format.formatAgent(agent)}`;
  },
});

const deleteAgentTool = defineTool({
  name: 'delete_agent',
  operation: 'agents.delete',
  description:
    'Delete an agent (admin). Refused for yourself, the recovery agent, the last active agent and agents that tasks, recurrences, automation rules or ingress sources refer to.',
  input: { agent_id: id.describe('The agent id') },
  async run(t, a) {
    await deleteAgent(t.db, t.principal, { cache: principalCache(t.env), agentId: idOf(a.agent_id) });
    return `Agent ${idOf(a.agent_id)} deleted.`;
  },
});

// ── webhooks ──

const listWebhooksTool = defineTool({
  name: 'list_webhooks',
  operation: 'webhooks.list',
  description: "The account's webhooks (admin).",
  input: {},
  async run(t) {
    return format.formatWebhooks(await listWebhooks(t.db, t.principal));
  },
});

const createWebhookTool = defineTool({
  name: 'create_webhook',
  operation: 'webhooks.create',
  description: `Subscribe an https URL to task events (admin). Events: ${TASK_EVENTS.join(', ')}. Deliveries are signed with the webhook's secret, shown once (masked here).`,
  input: {
    url: z.string().describe('https URL that receives the POSTs'),
    events: z.array(z.enum(TASK_EVENTS)).min(1).describe('Events to subscribe to'),
  },
  async run(t, a) {
    const input = checked(CreateWebhookBody, a);
    const webhook = await createWebhook(t.db, t.principal, {
      cache: principalCache(t.env),
      settings: { development: isDevelopment(t.env) },
      input,
      maxWebhooks: limit(t.env, 'WEBHOOKS_PER_ACCOUNT'),
      now: Date.now(),
    });
    const secret = webhook.secret
      ? `\n  Signing secret: ${format.maskSecret(webhook.secret)} (masked; shown only once: set your own with PUT /v1/webhooks/${webhook.id} to know it)`
      : '';
    return `Webhook created:\n\n${format.formatWebhook(webhook)}${secret}`;
  },
});

const deleteWebhookTool = defineTool({
  name: 'delete_webhook',
  operation: 'webhooks.delete',
  description: 'Delete a webhook and its delivery log (admin).',
  input: { webhook_id: id.describe('The webhook id') },
  async run(t, a) {
    await deleteWebhook(t.db, t.principal, idOf(a.webhook_id));
    return `Webhook ${idOf(a.webhook_id)} deleted.`;
  },
});

// ── recurrences ──

const RULE_TYPES = ['daily', 'weekly', 'monthly', 'yearly'] as const;
const nullableId = z.union([z.string(), z.number(), z.null()]);

const listRecurrencesTool = defineTool({
  name: 'list_recurrences',
  operation: 'recurrences.list',
  description:
    'List recurring task templates (up to 100, newest first). Each spawns an ordinary task at every occurrence; completing that task leaves the schedule in place.',
  input: {},
  async run(t) {
    const rows = await listRecurrences(t.db, t.principal, { limit: 100, offset: 0 });
    return format.formatRecurrences(rows.map(recurrenceJson));
  },
});

const createRecurringTaskTool = defineTool({
  name: 'create_recurring_task',
  operation: 'recurrences.create',
  description:
    'Create a recurring task template. The scheduler spawns an ordinary task from it at each occurrence, computed in its time zone, linked by source_recurrence_id.',
  input: {
    content: z.string().describe('Title of the spawned tasks'),
    description: z.string().optional().describe('Description of the spawned tasks'),
    project_id: id.optional().describe('Project id'),
    labels: z.array(z.string()).optional().describe('Labels of the spawned tasks'),
    priority: priority.optional().describe('1 normal, 2 medium, 3 high, 4 urgent'),
    assigned_to_agent_id: nullableId.optional().describe('Assignee of the spawned tasks'),
    rule_type: z.enum(RULE_TYPES).describe('daily, weekly, monthly or yearly'),
    interval: z.number().int().min(1).optional().describe('Every how many days/weeks/months/years (default 1)'),
    timezone: z.string().optional().describe('IANA time zone, e.g. America/Chicago (default UTC)'),
    anchor_day: z.number().int().min(1).max(31).optional().describe('Day of the month (monthly, yearly)'),
    anchor_month: z.number().int().min(1).max(12).optional().describe('Month (yearly)'),
    anchor_weekday: z.number().int().min(0).max(6).optional().describe('Weekday (weekly), Sunday 0'),
    next_due_at: z
      .string()
      .optional()
      .describe('The first occurrence: ISO timestamp, or a date for local midnight (default: the first after now)'),
    skip_if_open: z.boolean().optional().describe('Spawn nothing (and roll forward) while the previous task is still open'),
  },
  async run(t, a) {
    const input = checked(CreateRecurrenceBody, {
      ...a,
      project_id: optionalId(a.project_id),
      assigned_to_agent_id: optionalId(a.assigned_to_agent_id),
    });
    const row = await createRecurrence(t.db, t.principal, {
      input,
      maxPerAccount: limit(t.env, 'RECURRENCES_PER_ACCOUNT'),
      now: Date.now(),
    });
    return `Recurring task created:\n\n${format.formatRecurrence(recurrenceJson(row))}`;
  },
});

const updateRecurrenceTool = defineTool({
  name: 'update_recurrence',
  operation: 'recurrences.update',
  description:
    'Change a recurring task template; only the fields given change. active false pauses it, true resumes it. Changing the rule or resuming recomputes the next occurrence unless next_due_at is given.',
  input: {
    recurrence_id: id.describe('The recurrence id'),
    content: z.string().optional().describe('Title of future spawned tasks'),
    description: z.string().nullable().optional().describe('Description, or null to clear'),
    project_id: nullableId.optional().describe('Project id, or null to clear'),
    labels: z.array(z.string()).optional().describe('Labels (replace the old ones)'),
    priority: priority.optional().describe('1 normal, 2 medium, 3 high, 4 urgent'),
    assigned_to_agent_id: nullableId.optional().describe('Assignee, or null to clear'),
    rule_type: z.enum(RULE_TYPES).optional().describe('daily, weekly, monthly or yearly'),
    interval: z.number().int().min(1).optional().describe('Every how many periods'),
    timezone: z.string().optional().describe('IANA time zone'),
    anchor_day: z.number().int().min(1).max(31).nullable().optional().describe('Day of the month (monthly, yearly)'),
    anchor_month: z.number().int().min(1).max(12).nullable().optional().describe('Month (yearly)'),
    anchor_weekday: z.number().int().min(0).max(6).nullable().optional().describe('Weekday (weekly), Sunday 0'),
    next_due_at: z.string().nullable().optional().describe('The next occurrence'),
    active: z.boolean().optional().describe('false pauses, true resumes'),
    skip_if_open: z.boolean().optional().describe('Spawn nothing while the previous task is still open'),
  },
  async run(t, { recurrence_id, ...fields }) {
    const input = checked(UpdateRecurrenceBody, {
      ...fields,
      project_id: optionalId(fields.project_id),
      assigned_to_agent_id: optionalId(fields.assigned_to_agent_id),
    });
    const row = await updateRecurrence(t.db, t.principal, { recurrenceId: idOf(recurrence_id), input, now: Date.now() });
    return `Recurrence updated:\n\n${format.formatRecurrence(recurrenceJson(row))}`;
  },
});

const deleteRecurrenceTool = defineTool({
  name: 'delete_recurrence',
  operation: 'recurrences.delete',
  description: 'Delete a recurring task template. The tasks it already spawned remain as ordinary tasks.',
  input: { recurrence_id: id.describe('The recurrence id') },
  async run(t, a) {
    await deleteRecurrence(t.db, t.principal, idOf(a.recurrence_id));
    return `Recurrence ${idOf(a.recurrence_id)} deleted; the tasks it spawned remain.`;
  },
});

// ── recall ──

/** GET /context/search's limits, for typed arguments rather than a query string. */
const RecallArgs = z.object({
  q: z.string().trim().min(1, 'Required').max(500, 'At most 500 characters'),
  project_id: z.string().min(1).max(64).optional(),
  key: z.string().min(1).max(200, 'At most 200 characters').optional(),
});

const recallTool = defineTool({
  name: 'recall',
  operation: 'context.search',
  description:
    'Search the context of every task you can read for an earlier decision, fact or constraint, without knowing which task recorded it. Matches any of the words, best first, human_stated entries weighted highest. Call it before new work so as not to decide again what is settled. Read-only.',
  input: {
    q: z.string().describe("What you are about to do or look for, e.g. 'auth token expiry policy'"),
    project_id: id.optional().describe('Only tasks of this project'),
    source: z.enum(CONTEXT_SOURCES).optional().describe('Only entries of this source'),
    key: z.string().optional().describe('Only this context key'),
    limit: z.number().int().min(1).max(100).optional().describe('At most this many results (default 20)'),
    include_superseded: z.boolean().optional().describe('Include overwritten and removed entries (default false)'),
  },
  async run(t, a) {
    const args = checked(RecallArgs, { q: a.q, project_id: optionalId(a.project_id), key: a.key });
    const results = await searchContext(t.db, t.principal, {
      ...args,
      source: a.source,
      limit: a.limit ?? 20,
      include_superseded: a.include_superseded ?? false,
    });
    return format.formatRecall(args.q, results);
  },
});

// ── automations (admin) ──

const automationCondition = z.object({
  field: z.enum(CONDITION_FIELDS).describe('The task field to test'),
  op: z
    .enum(CONDITION_OPS)
    .describe('label: has/not_has; priority: eq/neq/gte/lte; ids: eq/neq/is_null/not_null; source (api, ingress): eq/neq'),
  value: z.union([z.string(), z.number()]).optional().describe('The value to compare with (none for is_null/not_null)'),
});

const automationAction = z.object({
  type: z.enum(ACTION_TYPES).describe('What to do'),
  agent_id: z.string().optional().describe('assign, delegate: the agent'),
  priority: priority.optional().describe('set_priority, create_task, delegate'),
  label: z.string().optional().describe('add_label'),
  policy: z.enum(['required']).optional().describe("set_evidence_policy: only 'required' (rules tighten, never loosen)"),
  content: z
    .string()
    .optional()
    .describe(
      'add_comment, create_task, delegate: text with {{event}}, {{task.id}}, {{task.content}}, {{task.priority}}, {{task.project_id}}, {{task.labels}}, {{task.due_date}}',
    ),
  description: z.string().optional().describe('create_task, delegate: description template'),
  project_id: z.string().optional().describe('create_task: project of the new task'),
  labels: z.array(z.string()).optional().describe('create_task, delegate: labels of the new task'),
  assigned_to_agent_id: z.string().optional().describe('create_task: assignee of the new task'),
});

const listAutomationsTool = defineTool({
  name: 'list_automations',
  operation: 'automations.list',
  description: "The account's automation rules with their run and failure counts (admin).",
  input: {},
  async run(t) {
    return format.formatAutomations(await listAutomations(t.db, t.principal));
  },
});

const createAutomationTool = defineTool({
  name: 'create_automation',
  operation: 'automations.create',
  description:
    'Create an automation rule (admin): when the event fires and every condition holds, the actions run in the service, no webhook receiver needed. Cascades stop at 3 hops and 25 actions per event, a rule never reacts to a task it created, field changes skip tasks under a live claim, and ingress tasks are ignored unless a condition is source eq ingress.',
  input: {
    name: z.string().describe('Short name of the rule'),
    event: z.enum(TASK_EVENTS).describe('The task event that triggers it'),
    conditions: z.array(automationCondition).optional().describe('All must hold (AND); none: every event'),
    actions: z.array(automationAction).describe('1 to 5 actions, run in order'),
    active: z.boolean().optional().describe('false creates the rule disabled'),
  },
  async run(t, a) {
    const input = checked(CreateAutomationBody, a);
    const rule = await createAutomation(t.db, t.principal, {
      cache: principalCache(t.env),
      input,
      maxRules: limit(t.env, 'AUTOMATIONS_PER_ACCOUNT'),
      now: Date.now(),
    });
    return `Automation created:\n\n${format.formatAutomation(rule)}`;
  },
});

const updateAutomationTool = defineTool({
  name: 'update_automation',
  operation: 'automations.update',
  description:
    'Change an automation rule (admin); only the fields given change, conditions and actions are replaced whole. active true also re-enables a rule disabled after repeated failures.',
  input: {
    automation_id: id.describe('The automation rule id'),
    name: z.string().optional().describe('New name'),
    event: z.enum(TASK_EVENTS).optional().describe('New trigger event'),
    conditions: z.array(automationCondition).optional().describe('Replacement conditions'),
    actions: z.array(automationAction).optional().describe('Replacement actions'),
    active: z.boolean().optional().describe('Enable or disable the rule'),
  },
  async run(t, { automation_id, ...fields }) {
    const input = checked(UpdateAutomationBody, fields);
    const rule = await updateAutomation(t.db, t.principal, {
      cache: principalCache(t.env),
      automationId: idOf(automation_id),
      input,
      now: Date.now(),
    });
    return `Automation updated:\n\n${format.formatAutomation(rule)}`;
  },
});

const deleteAutomationTool = defineTool({
  name: 'delete_automation',
  operation: 'automations.delete',
  description: 'Delete an automation rule and its run log (admin).',
  input: { automation_id: id.describe('The automation rule id') },
  async run(t, a) {
    await deleteAutomation(t.db, t.principal, idOf(a.automation_id));
    return `Automation ${idOf(a.automation_id)} deleted.`;
  },
});

// ── ingress sources (admin) ──

const ingressFilter = z.object({
  path: z.string().describe('Dot path into the payload, e.g. workflow.conclusion or runs.0.status'),
  op: z.enum(['eq', 'neq', 'exists', 'not_exists']).describe('Comparison'),
  value: z.union([z.string(), z.number(), z.boolean()]).optional().describe('For eq and neq (strict equality)'),
});

const ingressTemplate = z
  .object({
    content: z.string().describe('Task title; {{dot.path}} placeholders take values from the payload (primitives only)'),
    description: z.string().optional().describe('Task description template'),
    priority: priority.optional().describe('Priority of the created tasks'),
    labels: z.array(z.string()).optional().describe("Labels; 'ingress' is always added"),
    dedupe_key: z
      .string()
      .optional()
      .describe('Template of a key that makes retried deliveries create no second task, e.g. {{run.id}} (default: the body hash)'),
  })
  .describe('How a payload becomes a task: placeholders only, no expressions');

/** The secret is shown once: masked, so it does not stay whole in a transcript. */
function sourceText(heading: string, source: IngressSourceJson): string {
  const lines = [heading, '', format.formatIngressSource(source)];
  if (source.secret)
    lines.push(
      `  Signing secret: ${format.maskSecret(source.secret)} (masked; shown only once: rotate it over the REST API, PUT /v1/ingress-sources/${source.id} with "rotate_secret": true, to read it whole)`,
    );
  return lines.join('\n');
}

const listIngressSourcesTool = defineTool({
  name: 'list_ingress_sources',
  operation: 'ingress.list',
  description: "The account's inbound connectors with their delivery counts (admin).",
  input: {},
  async run(t) {
    return format.formatIngressSources(await listSources(t.db, t.principal));
  },
});

const createIngressSourceTool = defineTool({
  name: 'create_ingress_source',
  operation: 'ingress.create',
  description:
    "Create an inbound connector (admin): a signed public endpoint that turns external events (CI failures, alerts) into tasks. The sender signs each body: header X-Delega-Ingress-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, '<t>.<body>')>, within 5 minutes. It only creates tasks, in the project and for the assignee pinned here; each carries the 'ingress' label.",
  input: {
    name: z.string().describe("Short name, e.g. 'github-actions-ci'"),
    template: ingressTemplate,
    filters: z.array(ingressFilter).optional().describe('Only deliveries passing all filters create tasks'),
    default_project_id: z.string().optional().describe('Project of the created tasks (the payload cannot change it)'),
    default_assignee_agent_id: z.string().optional().describe('Assignee of the created tasks (the payload cannot change it)'),
    active: z.boolean().optional().describe('false creates the source paused'),
  },
  async run(t, a) {
    const input = checked(CreateIngressSourceBody, a);
    const source = await createSource(t.db, t.principal, {
      input,
      maxSources: limit(t.env, 'INGRESS_SOURCES_PER_ACCOUNT'),
      now: Date.now(),
    });
    return sourceText('Ingress source created:', source);
  },
});

const updateIngressSourceTool = defineTool({
  name: 'update_ingress_source',
  operation: 'ingress.update',
  description:
    'Change an inbound connector (admin); only the fields given change. rotate_secret true mints a new signing secret: the old one stops working at once.',
  input: {
    source_id: id.describe('The ingress source id'),
    name: z.string().optional().describe('New name'),
    template: ingressTemplate.optional(),
    filters: z.array(ingressFilter).optional().describe('Replacement filters'),
    default_project_id: z.string().nullable().optional().describe('New pinned project (null clears)'),
    default_assignee_agent_id: z.string().nullable().optional().describe('New pinned assignee (null clears)'),
    active: z.boolean().optional().describe('Pause or resume the source'),
    rotate_secret: z.boolean().optional().describe('Mint a new signing secret'),
  },
  async run(t, { source_id, ...fields }) {
    const input = checked(UpdateIngressSourceBody, fields);
    return sourceText(
      'Ingress source updated:',
      await updateSource(t.db, t.principal, { sourceId: idOf(source_id), input, now: Date.now() }),
    );
  },
});

const deleteIngressSourceTool = defineTool({
  name: 'delete_ingress_source',
  operation: 'ingress.delete',
  description: 'Delete an inbound connector and its delivery log (admin); its endpoint answers 404 from then on.',
  input: { source_id: id.describe('The ingress source id') },
  async run(t, a) {
    await deleteSource(t.db, t.principal, idOf(a.source_id));
    return `Ingress source ${idOf(a.source_id)} deleted.`;
  },
});

/** Whether the key may use the tool: the authorisation table's verdict. */
export function mayUse(p: Principal, tool: Tool): boolean {
  return isAllowed(p, tool.operation);
}

/** Throws the table's refusal for a tool the key may not use, naming the tool. */
export function authorizeTool(p: Principal, tool: Tool): void {
  authorize(p, tool.operation, tool.name);
}

/** Every tool, in the order tools/list shows them. */
export const TOOLS: readonly Tool[] = [
  listTasksTool,
  getTaskTool,
  recallTool,
  linkTaskTool,
  listTaskLinksTool,
  createTaskTool,
  listRecurrencesTool,
  createRecurringTaskTool,
  updateRecurrenceTool,
  deleteRecurrenceTool,
  updateTaskTool,
  assignTaskTool,
  delegateTaskTool,
  getTaskChainTool,
  getTaskContextTool,
  updateTaskContextTool,
  getContextHistoryTool,
  findDuplicatesTool,
  getUsageTool,
  completeTaskTool,
  claimTaskTool,
  heartbeatTaskTool,
  setTaskStateTool,
  releaseTaskTool,
  fleetAttentionTool,
  deleteTaskTool,
  addCommentTool,
  listProjectsTool,
  getStatsTool,
  listAgentsTool,
  registerAgentTool,
  setAgentRoleTool,
  deleteAgentTool,
  listWebhooksTool,
  createWebhookTool,
  deleteWebhookTool,
  listAutomationsTool,
  createAutomationTool,
  updateAutomationTool,
  deleteAutomationTool,
  listIngressSourcesTool,
  createIngressSourceTool,
  updateIngressSourceTool,
  deleteIngressSourceTool,
];
