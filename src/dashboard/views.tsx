/**
 * The dashboard's pages as hono/jsx components: every value is escaped by construction (no
 * raw HTML anywhere). Pages read without JavaScript; every action is a plain form POST.
 */
import type { Child, FC } from 'hono/jsx';
import { modeFor } from '../access/policy';
import type { AgentJson } from '../accounts/agents';
import type { Attention, AttentionBuckets } from '../work-queue/fleet';
import type { ProjectJson } from '../accounts/projects';
import type { TaskJson } from '../tasks/task-json';
import type { UsageJson } from '../accounts/usage';
import type { WebhookJson } from '../webhooks/webhooks';
import type { DeliveryJson } from '../webhooks/deliveries';
import { TASK_EVENTS } from '../webhooks/events';
import { EVIDENCE_KINDS } from '../tasks/tasks';
import { AgentOptions, agentName, DeleteForm, EmptyNote, Facts, Notice, PRIORITY, PriorityOptions, ProjectOptions, Table } from './kit';
import { HistorySection, LinksSection, SubtasksSection } from './task-sections';
import { COLUMN_PAGE, COLUMNS, type BoardData, type BoardFilters, type ColumnName, type TaskPageData } from './queries';

export interface Viewer {
  email: string;
  name: string | null;
}

type Section = 'board' | 'agents' | 'fleet' | 'webhooks' | 'recurrences' | 'automations' | 'ingress' | 'usage' | 'connections' | null;

const NAV: [Exclude<Section, null>, string, string][] = [
  ['board', 'Board', '/app'],
  ['fleet', 'Attention', '/app/fleet'],
  ['agents', 'Agents', '/app/agents'],
  ['webhooks', 'Webhooks', '/app/webhooks'],
  ['recurrences', 'Recurrences', '/app/recurrences'],
  ['automations', 'Automations', '/app/automations'],
  ['ingress', 'Ingress', '/app/ingress'],
  ['usage', 'Usage & billing', '/app/usage'],
  ['connections', 'Connections', '/app/connections'],
];

export const Layout: FC<{ title: string; viewer?: Viewer | null; section?: Section; narrow?: boolean; children?: Child }> = ({
  title,
  viewer,
  section,
  narrow,
  children,
}) => (
  <>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex" />
        <title>{`${title} · Delega`}</title>
        <link rel="stylesheet" href="/app/assets/app.css" />
        <script src="/app/assets/app.js" defer></script>
      </head>
      <body>
        {viewer ? (
          <header class="top">
            <a class="brand" href="/app">
              Delega
            </a>
            <nav aria-label="Main">
              {NAV.map(([key, label, href]) => (
                <a href={href} aria-current={section === key ? 'page' : undefined}>
                  {label}
                </a>
              ))}
            </nav>
            <div class="who">
              <span>{viewer.name ?? viewer.email}</span>
              <form method="post" action="/app/sign-out">
                <button class="quiet" type="submit">
                  Sign out
                </button>
              </form>
            </div>
          </header>
        ) : null}
        <main class={narrow ? 'narrow' : undefined}>{children}</main>
      </body>
    </html>
  </>
);

// ------------------------------------------------------------------ sign-in

export const SignInPage: FC<{ message?: string; email?: string; next: string }> = ({ message, email, next }) => (
  <Layout title="Sign in" narrow>
    <div class="panel">
      <h1>Sign in to Delega</h1>
      {next.startsWith('/authorize') ? <p>An app wants to connect to Delega as one of your agents. Sign in first.</p> : null}
      {message ? <p role="status">{message}</p> : <p class="muted">We email you a link that signs you in. No password.</p>}
      <form method="post" action="/app/sign-in">
        <label for="email">Email</label>
        <input id="email" name="email" type="email" required autocomplete="email" value={email ?? ''} size={32} />
        <input type="hidden" name="next" value={next} />
        <p>
          <button type="submit">Email me a sign-in link</button>
        </p>
      </form>
    </div>
  </Layout>
);

export const SignInLinkPage: FC<{ token: string; next: string }> = ({ token, next }) => (
  <Layout title="Sign in" narrow>
    <div class="panel">
      <h1>Sign in to Delega</h1>
      <p>Press the button to finish signing in on this device.</p>
      <form method="post" action="/app/sign-in/link">
        <input type="hidden" name="token" value={token} />
        <input type="hidden" name="next" value={next} />
        <button type="submit">Sign in</button>
      </form>
    </div>
  </Layout>
);

export const MessagePage: FC<{ title: string; viewer?: Viewer | null; children?: Child }> = ({ title, viewer, children }) => (
  <Layout title={title} viewer={viewer} narrow={!viewer}>
    <div class="panel">
      <h1>{title}</h1>
      {children}
    </div>
  </Layout>
);

export const ErrorPage: FC<{ viewer: Viewer | null; status: number; code: string; message: string; back?: string }> = ({
  viewer,
  status,
  code,
  message,
  back,
}) => (
  <MessagePage title={status === 404 ? 'Not found' : status === 403 ? 'Not allowed' : 'That did not work'} viewer={viewer}>
    <p class="panel error" role="alert">
      {message} <span class="muted small">({code})</span>
    </p>
    <p>
      <a href={back ?? '/app'}>Go back</a>
    </p>
  </MessagePage>
);

// ------------------------------------------------------------------ board

const COLUMN_TITLES: Record<ColumnName, string> = { open: 'Open', claimed: 'Claimed', waiting: 'Waiting on input', done: 'Done' };

function until(iso: string | null, now: number): string {
  if (!iso) return '';
  const s = Math.round((Date.parse(iso) - now) / 1000);
  if (s <= 0) return 'lease ran out';
  return s >= 120 ? `lease ${Math.round(s / 60)} min left` : `lease ${s} s left`;
}

export const Hidden: FC<{ name: string; value: string | undefined }> = ({ name, value }) =>
  value ? <input type="hidden" name={name} value={value} /> : null;

const Card: FC<{ task: TaskJson; column: ColumnName; data: BoardData; now: number; back: string }> = ({
  task,
  column,
  data,
  now,
  back,
}) => {
  const holder = agentName(data.agents, task.claimed_by_agent_id);
  const assignee = agentName(data.agents, task.assigned_to_agent_id);
  const project = data.projects.find((p) => p.id === task.project_id);
  const moves = data.columns[column].moves[task.id] ?? [];
  return (
    // biome-ignore lint/a11y/useAriaPropsSupportedByRole: the board's script moves the keyboard selection between cards; the tests read it
    <article
      class="card"
      data-task-id={task.id}
      aria-selected="false"
      draggable={moves.length ? 'true' : undefined}
      data-moves={moves.join(' ') || undefined}
    >
      <a class="title" href={`/app/tasks/${task.id}`}>
        {task.content}
      </a>
      <div class="meta">
        {task.priority > 1 ? <span class={`chip p${task.priority}`}>{PRIORITY[task.priority]}</span> : null}
        {project ? <span class="chip">{project.name}</span> : null}
        {task.labels.map((l) => (
          <span class="chip">#{l}</span>
        ))}
      </div>
      {holder ? (
        <div class="meta holder">
          {column === 'waiting' ? 'Asked by ' : 'Held by '}
          <strong>{holder}</strong> · {until(task.lease_expires_at, now)}
          {task.session_state_detail ? <div>“{task.session_state_detail}”</div> : null}
        </div>
      ) : null}
      {assignee ? <div class="meta">Assigned to {assignee}</div> : null}
      {task.completed && task.completion_evidence.length ? (
        <div class="meta">
          {task.completion_evidence.length} evidence item{task.completion_evidence.length === 1 ? '' : 's'}
        </div>
      ) : null}
      <div class="actions">
        {task.completed ? null : (
          <details class="quick-edit">
            <summary>Edit</summary>
            <form method="post" action={`/app/tasks/${task.id}/edit`}>
              <input type="hidden" name="back" value={back} />
              <label for={`c-${task.id}`}>Title</label>
              <input id={`c-${task.id}`} name="content" value={task.content} required maxlength={500} class="wide" />
              <label for={`p-${task.id}`}>Priority</label>
              <select id={`p-${task.id}`} name="priority">
                <PriorityOptions selected={task.priority} />
              </select>
              <label for={`a-${task.id}`}>Assign to</label>
              <select id={`a-${task.id}`} name="assigned_to_agent_id">
                <AgentOptions agents={data.agents} empty="(anyone)" selected={task.assigned_to_agent_id} />
              </select>
              <button type="submit">Save</button>
            </form>
          </details>
        )}
        {task.completed ? null : (
          <details class="quick-edit">
            <summary>Delegate</summary>
            <form method="post" action={`/app/tasks/${task.id}/delegate`}>
              <input type="hidden" name="back" value={back} />
              <label for={`d-${task.id}`}>Child task</label>
              <input id={`d-${task.id}`} name="content" required maxlength={500} class="wide" />
              <label for={`da-${task.id}`}>To</label>
              <select id={`da-${task.id}`} name="assigned_to_agent_id">
                <AgentOptions agents={data.agents} empty="(anyone)" />
              </select>
              <button type="submit">Delegate</button>
            </form>
          </details>
        )}
        {task.completed ? (
          <form method="post" action={`/app/tasks/${task.id}/reopen`} data-action="reopen">
            <input type="hidden" name="back" value={back} />
            <button class="quiet" type="submit" aria-label={`Reopen ${task.content}`}>
              Reopen
            </button>
          </form>
        ) : (
          <form method="post" action={`/app/tasks/${task.id}/complete`} data-action="complete">
            <input type="hidden" name="back" value={back} />
            <button class="quiet" type="submit" aria-label={`Complete ${task.content}`}>
              Complete
            </button>
          </form>
        )}
      </div>
    </article>
  );
};

function boardHref(f: BoardFilters, change: Partial<Record<ColumnName, number>> = {}): string {
  const q = new URLSearchParams();
  if (f.project) q.set('project', f.project);
  if (f.label) q.set('label', f.label);
  if (f.assignee) q.set('assignee', f.assignee);
  if (f.search) q.set('q', f.search);
  for (const c of COLUMNS) {
    const o = change[c] ?? f.offsets[c];
    if (o > 0) q.set(`${c}_offset`, String(o));
  }
  const s = q.toString();
  return s ? `/app?${s}` : '/app';
}

export const BoardPage: FC<{ viewer: Viewer; data: BoardData; filters: BoardFilters; now: number; baseUrl: string }> = ({
  viewer,
  data,
  filters,
  now,
  baseUrl,
}) => {
  const back = boardHref(filters);
  const total = COLUMNS.reduce((n, c) => n + data.columns[c].total, 0);
  const filtered = Boolean(filters.project || filters.label || filters.assignee || filters.search);
  return (
    <Layout title="Board" viewer={viewer} section="board">
      <h1>Board</h1>
      <div class="panel">
        <form method="post" action="/app/tasks" class="row" aria-label="New task">
          <div class="grow">
            <label for="new-task-content">
              New task <kbd>n</kbd>
            </label>
            <input id="new-task-content" name="content" required maxlength={500} placeholder="What needs doing?" class="wide" />
          </div>
          <div>
            <label for="new-task-priority">Priority</label>
            <select id="new-task-priority" name="priority">
              <PriorityOptions />
            </select>
          </div>
          <div>
            <label for="new-task-labels">Labels</label>
            <input id="new-task-labels" name="labels" placeholder="ci, backend" size={12} />
          </div>
          <div>
            <label for="new-task-project">Project</label>
            <select id="new-task-project" name="project_id">
              <ProjectOptions projects={data.projects} empty="(none)" selected={filters.project} />
            </select>
          </div>
          <div>
            <label for="new-task-assignee">Assign to</label>
            <select id="new-task-assignee" name="assigned_to_agent_id">
              <AgentOptions agents={data.agents} empty="(anyone)" />
            </select>
          </div>
          <input type="hidden" name="back" value={back} />
          <button type="submit">Create</button>
        </form>
      </div>
      <form method="get" action="/app" class="row panel" aria-label="Filters">
        <div>
          <label for="filter-search">
            Search <kbd>/</kbd>
          </label>
          <input id="filter-search" name="q" type="search" value={filters.search ?? ''} maxlength={200} />
        </div>
        <div>
          <label for="filter-project">Project</label>
          <select id="filter-project" name="project">
            <ProjectOptions projects={data.projects} empty="All" selected={filters.project} />
          </select>
        </div>
        <div>
          <label for="filter-label">Label</label>
          <select id="filter-label" name="label">
            <option value="">All</option>
            {data.labels.map((l) => (
              <option value={l} selected={l === filters.label}>
                {l}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="filter-assignee">Assignee</label>
          <select id="filter-assignee" name="assignee">
            <AgentOptions agents={data.agents} empty="Anyone" selected={filters.assignee} all />
          </select>
        </div>
        <button type="submit">Filter</button>
        {filtered ? <a href="/app">Clear</a> : null}
        <span class="muted small push">
          <kbd>j</kbd>/<kbd>k</kbd> move · <kbd>Enter</kbd> open · <kbd>c</kbd> complete · <kbd>?</kbd> help
        </span>
      </form>
      <div id="shortcuts" class="panel small" hidden>
        <kbd>n</kbd> new task · <kbd>/</kbd> search · <kbd>j</kbd> next card · <kbd>k</kbd> previous card · <kbd>Enter</kbd> open card ·{' '}
        <kbd>c</kbd> complete card · <kbd>r</kbd> refresh · <kbd>?</kbd> this help
      </div>
      {total === 0 && !filtered ? (
        <div class="panel" role="note">
          <h2>No tasks yet</h2>
          <p>Create one above, or let an agent create one with its key:</p>
          <pre>{`curl -X POST ${baseUrl}/v1/tasks -H "X-Agent-Key: $KEY" -H 'Content-Type: application/json' \\\n  -d '{"content":"Triage flaky test","labels":["ci"]}'`}</pre>
          <p>
            No key at hand? <a href="/app/agents">Create an agent</a>: its key is shown once.
          </p>
        </div>
      ) : null}
      <p id="board-status" class="panel error" role="alert" hidden></p>
      <p class="visually-hidden" id="drag-help">
        Drag a card to Done to complete it, or back to Open to reopen it; or use its Complete and Reopen buttons.
      </p>
      <div id="board" class="board" data-refresh-ms="3000">
        {COLUMNS.map((name) => {
          const col = data.columns[name];
          const shownTo = col.offset + col.tasks.length;
          return (
            <section class="column" aria-labelledby={`col-${name}`} data-column={name}>
              <h2 id={`col-${name}`}>
                <span>{COLUMN_TITLES[name]}</span>
                <span class="muted" data-count>
                  {col.total}
                </span>
              </h2>
              {col.tasks.length === 0 ? (
                <p class="empty">{EMPTY[name]}</p>
              ) : (
                col.tasks.map((t) => <Card task={t} column={name} data={data} now={now} back={back} />)
              )}
              {col.total > COLUMN_PAGE ? (
                <p class="small muted">
                  {col.offset + 1}–{shownTo} of {col.total}{' '}
                  {col.offset > 0 ? <a href={boardHref(filters, { [name]: Math.max(0, col.offset - COLUMN_PAGE) })}>newer</a> : null}{' '}
                  {shownTo < col.total ? <a href={boardHref(filters, { [name]: col.offset + COLUMN_PAGE })}>more</a> : null}
                </p>
              ) : null}
            </section>
          );
        })}
      </div>
    </Layout>
  );
};

const EMPTY: Record<ColumnName, string> = {
  open: 'Nothing waiting to be picked up.',
  claimed: 'No agent is working on anything right now. Agents claim with POST /v1/tasks/claim.',
  waiting: 'No agent is waiting on an answer.',
  done: 'Nothing completed yet.',
};

// ------------------------------------------------------------------ task page

export const TaskPage: FC<{ viewer: Viewer; data: TaskPageData; now: number }> = ({ viewer, data, now }) => {
  const t = data.task;
  const name = (id: string | null) => agentName(data.agents, id);
  const back = `/app/tasks/${t.id}`;
  const project = data.projects.find((p) => p.id === t.project_id);
  return (
    <Layout title={t.content} viewer={viewer} section="board">
      <p class="small">
        <a href="/app">← Board</a>
      </p>
      <h1>{t.content}</h1>
      {t.session_state === 'waiting_input' && t.claimed_by_agent_id ? (
        <div class="panel notice" role="note">
          <p>
            <strong>{name(t.claimed_by_agent_id)}</strong> is waiting on an answer{t.session_state_detail ? ':' : '.'}{' '}
            {t.session_state_detail ? <q>{t.session_state_detail}</q> : null}
          </p>
          <p class="small muted">
            <a href="#comment">Answer in a comment</a>: the agent reads the task's comments.
          </p>
        </div>
      ) : null}
      <div class="grid2">
        <div>
          <section class="panel" aria-labelledby="h-details">
            <h2 id="h-details">Details</h2>
            {t.description ? <p class="pre">{t.description}</p> : <p class="muted">No description.</p>}
            <Facts
              rows={[
                [
                  'Status',
                  <strong data-status>
                    {t.completed
                      ? 'completed'
                      : t.session_state === 'waiting_input' && t.claimed_by_agent_id
                        ? 'waiting on input'
                        : t.status}
                  </strong>,
                ],
                ['Priority', PRIORITY[t.priority]],
                ['Labels', t.labels.join(', ')],
                ['Project', project?.name ?? null],
                ['Due', t.due_date],
                ['Assigned to', name(t.assigned_to_agent_id)],
                ['Held by', t.claimed_by_agent_id ? `${name(t.claimed_by_agent_id)} (${until(t.lease_expires_at, now)})` : null],
                ['Session', t.session_state ? `${t.session_state}${t.session_state_detail ? `: ${t.session_state_detail}` : ''}` : null],
                ['Created by', name(t.created_by_agent_id)],
                ['Completed', t.completed_at ? `${t.completed_at} by ${name(t.completed_by_agent_id) ?? 'someone'}` : null],
                ['Reopened', t.reopen_count ? `${t.reopen_count} times` : null],
                ['Evidence policy', t.evidence_policy],
                [
                  'Source',
                  t.source_recurrence_id
                    ? `recurrence ${t.source_recurrence_id}`
                    : t.source_ingress_id
                      ? `ingress ${t.source_ingress_id} (untrusted content)`
                      : null,
                ],
                ['Id', <code>{t.id}</code>],
              ]}
            />
          </section>
          {t.handoff_note ? (
            <section class="panel" aria-labelledby="h-handoff">
              <h2 id="h-handoff">Handoff note</h2>
              <p class="pre">{t.handoff_note}</p>
              <p class="muted small">
                Left by {name(t.handoff_by_agent_id) ?? 'an agent'}
                {t.handoff_state ? ` while ${t.handoff_state}` : ''}
              </p>
            </section>
          ) : null}
          <section class="panel" aria-labelledby="h-evidence">
            <h2 id="h-evidence">Evidence</h2>
            {t.completion_evidence.length ? (
              <ul>
                {t.completion_evidence.map((e) => (
                  <li>
                    <span class="chip">{e.kind}</span> <code>{e.ref}</code> {e.summary ? <span class="muted">— {e.summary}</span> : null}
                  </li>
                ))}
              </ul>
            ) : (
              <p class="muted">None yet. Evidence is attached when the task is completed.</p>
            )}
          </section>
          <section class="panel" aria-labelledby="h-context">
            <h2 id="h-context">Context (version {t.context_version})</h2>
            {Object.keys(data.context).length ? (
              <pre>{JSON.stringify(data.context, null, 2)}</pre>
            ) : (
              <p class="muted">Empty. Agents write it with PATCH /v1/tasks/{t.id}/context.</p>
            )}
            {data.history.length ? (
              <Table head={['Version', 'Key', 'Value', 'Source', 'By', 'At']}>
                {data.history.map((h) => (
                  <tr>
                    <td>{h.version}</td>
                    <td>
                      <code>{h.key}</code>
                    </td>
                    <td>
                      <code>{h.value ?? '(removed)'}</code>
                    </td>
                    <td>{h.source}</td>
                    <td>{name(h.agent_id) ?? '—'}</td>
                    <td class="small">{h.created_at}</td>
                  </tr>
                ))}
              </Table>
            ) : null}
          </section>
          <section class="panel" aria-labelledby="h-comments">
            <h2 id="h-comments">Comments</h2>
            {data.comments.length ? (
              <ul>
                {data.comments.map((c) => (
                  <li>
                    <strong>{c.author ?? name(c.agent_id) ?? 'unknown'}</strong> <span class="muted small">{c.created_at}</span>
                    <div class="pre">{c.content}</div>
                  </li>
                ))}
              </ul>
            ) : (
              <p class="muted">No comments yet. Answer an agent's question here: it reads comments on the task.</p>
            )}
            <form method="post" action={`/app/tasks/${t.id}/comments`}>
              <label for="comment">Add a comment</label>
              <textarea id="comment" name="content" required maxlength={10000}></textarea>
              <button type="submit">Comment</button>
            </form>
          </section>
          <HistorySection data={data} name={name} />
        </div>
        <div>
          <section class="panel" aria-labelledby="h-actions">
            <h2 id="h-actions">Actions</h2>
            {t.completed ? (
              <form method="post" action={`/app/tasks/${t.id}/reopen`}>
                <input type="hidden" name="back" value={back} />
                <button type="submit">Reopen</button>
              </form>
            ) : (
              <form method="post" action={`/app/tasks/${t.id}/complete`}>
                <input type="hidden" name="back" value={back} />
                <label for="evidence-kind">Evidence (optional)</label>
                <div class="row">
                  <select id="evidence-kind" name="evidence_kind">
                    {EVIDENCE_KINDS.map((k) => (
                      <option value={k}>{k}</option>
                    ))}
                  </select>
                  <input name="evidence_ref" placeholder="sha, PR url, …" aria-label="Evidence reference" maxlength={500} />
                </div>
                <input name="evidence_summary" placeholder="Summary" aria-label="Evidence summary" maxlength={1000} class="wide" />
                <p>
                  <button type="submit">Complete</button>
                </p>
              </form>
            )}
          </section>
          {t.completed ? null : (
            <section class="panel" aria-labelledby="h-edit">
              <h2 id="h-edit">Edit</h2>
              <form method="post" action={`/app/tasks/${t.id}/edit`}>
                <label for="edit-content">Title</label>
                <input id="edit-content" name="content" value={t.content} required maxlength={500} class="wide" />
                <label for="edit-description">Description</label>
                <textarea id="edit-description" name="description" maxlength={10000}>
                  {t.description ?? ''}
                </textarea>
                <label for="edit-priority">Priority</label>
                <select id="edit-priority" name="priority">
                  <PriorityOptions selected={t.priority} />
                </select>
                <label for="edit-labels">Labels</label>
                <input id="edit-labels" name="labels" value={t.labels.join(', ')} />
                <label for="edit-assignee">Assign to</label>
                <select id="edit-assignee" name="assigned_to_agent_id">
                  <AgentOptions agents={data.agents} empty="(anyone)" selected={t.assigned_to_agent_id} />
                </select>
                <label for="edit-due">Due</label>
                <input id="edit-due" name="due_date" type="date" value={t.due_date?.slice(0, 10) ?? ''} />
                <p>
                  <button type="submit">Save</button>
                </p>
              </form>
              <h2>Delegate a part</h2>
              <form method="post" action={`/app/tasks/${t.id}/delegate`}>
                <label for="delegate-content">Child task</label>
                <input id="delegate-content" name="content" required maxlength={500} class="wide" />
                <label for="delegate-assignee">To</label>
                <select id="delegate-assignee" name="assigned_to_agent_id">
                  <AgentOptions agents={data.agents} empty="(anyone)" />
                </select>
                <p>
                  <button type="submit">Delegate</button>
                </p>
              </form>
            </section>
          )}
          <SubtasksSection data={data} />
          <section class="panel" aria-labelledby="h-chain">
            <h2 id="h-chain">Delegation chain</h2>
            {data.chain.length > 1 ? (
              <ul>
                {data.chain.map((c) => (
                  <li class={`depth${Math.min(c.delegation_depth, 6)}`}>
                    {c.id === t.id ? <strong>{c.content}</strong> : <a href={`/app/tasks/${c.id}`}>{c.content}</a>}{' '}
                    <span class="muted small">{c.completed ? 'done' : c.status}</span>
                  </li>
                ))}
              </ul>
            ) : (
              <p class="muted">Not delegated.</p>
            )}
          </section>
          <LinksSection data={data} agents={data.agents} />
          <section class="panel" aria-labelledby="h-runs">
            <h2 id="h-runs">Runs</h2>
            {data.runs.length ? (
              <Table head={['Agent', 'Claimed', 'Outcome']}>
                {data.runs.map((r) => (
                  <tr>
                    <td>{name(r.agent_id)}</td>
                    <td class="small">{r.claimed_at}</td>
                    <td>
                      {r.outcome ?? 'running'}
                      {r.duration_ms !== null ? ` (${Math.round(r.duration_ms / 1000)} s)` : ''}
                    </td>
                  </tr>
                ))}
              </Table>
            ) : (
              <p class="muted">No agent has claimed it yet.</p>
            )}
          </section>
        </div>
      </div>
    </Layout>
  );
};

// ------------------------------------------------------------------ agents

/** Last seen is written at most every 5 minutes, so finer than minutes would be false precision. */
function ago(iso: string, now: number): string {
  const min = Math.floor((now - Date.parse(iso)) / 60_000);
  if (min < 5) return 'just now';
  if (min < 120) return `${min} min ago`;
  if (min < 48 * 60) return `${Math.floor(min / 60)} h ago`;
  return iso.slice(0, 10);
}

export const AgentsPage: FC<{ viewer: Viewer; agents: AgentJson[]; newKey?: { agent: string; key: string; rotated: boolean } }> = ({
  viewer,
  agents,
  newKey,
}) => (
  <Layout title="Agents" viewer={viewer} section="agents">
    <h1>Agents</h1>
    {newKey ? (
      <div class="panel notice" role="status">
        <p>
          {newKey.rotated ? 'New key for ' : 'Key for '}
          <strong>{newKey.agent}</strong>. Copy it now: it is shown only once{newKey.rotated ? ', and the old key no longer works' : ''}.
        </p>
        <p class="secret" data-secret="api-key">
          {newKey.key}
        </p>
      </div>
    ) : null}
    <div class="panel">
      <h2>Create an agent</h2>
      <form method="post" action="/app/agents" class="row">
        <div>
          <label for="agent-name">Name (slug)</label>
          <input id="agent-name" name="name" required pattern="[a-z0-9_\-]{3,32}" maxlength={32} placeholder="build-bot" />
        </div>
        <div>
          <label for="agent-display">Display name</label>
          <input id="agent-display" name="display_name" maxlength={100} />
        </div>
        <div>
          <label for="agent-role">Role</label>
          <select id="agent-role" name="role">
            <option value="worker">worker</option>
            <option value="coordinator">coordinator</option>
            <option value="admin">admin</option>
          </select>
        </div>
        <button type="submit">Create agent</button>
      </form>
    </div>
    <div class="panel">
      <Table head={['Agent', 'Role', 'Mode', 'Status', 'Key', 'Last seen', 'Created', 'Actions']}>
        {agents.map((a) => (
          <tr data-agent-id={a.id}>
            <td>
              <strong>{a.display_name ?? a.name}</strong> <span class="muted small">{a.name}</span>
              {a.is_default ? <span class="chip">recovery agent (you act as it)</span> : null}
            </td>
            <td>
              <form method="post" action={`/app/agents/${a.id}/role`} class="row">
                <select name="role" aria-label={`Role of ${a.name}`}>
                  {(['worker', 'coordinator', 'admin'] as const).map((r) => (
                    <option value={r} selected={r === a.role}>
                      {r}
                    </option>
                  ))}
                </select>
                <button class="quiet" type="submit">
                  Set
                </button>
              </form>
            </td>
            <td>{modeFor('active', a.role)}</td>
            <td>{a.active ? 'active' : 'deactivated'}</td>
            <td>
              <code>{a.key_prefix}…</code>
            </td>
            <td class="small" data-last-seen>
              {a.last_seen_at ? <time datetime={a.last_seen_at}>{ago(a.last_seen_at, Date.now())}</time> : 'never'}
            </td>
            <td class="small">{a.created_at}</td>
            <td class="row">
              <form
                method="post"
                action={`/app/agents/${a.id}/rotate`}
                data-confirm={`Rotate the key of ${a.name}? The old key stops working at once.`}
              >
                <button class="quiet" type="submit">
                  Rotate key
                </button>
              </form>
              <form method="post" action={`/app/agents/${a.id}/${a.active ? 'deactivate' : 'activate'}`}>
                <button class="quiet" type="submit">
                  {a.active ? 'Deactivate' : 'Activate'}
                </button>
              </form>
              <DeleteForm action={`/app/agents/${a.id}`} what={a.name} confirm={`Delete ${a.name}?`} />
            </td>
          </tr>
        ))}
      </Table>
    </div>
  </Layout>
);

// ------------------------------------------------------------------ fleet

const ATTENTION_TITLES: [keyof AttentionBuckets, string, string][] = [
  ['waiting_input', 'Waiting on input', 'An agent asked a question: answer it in a comment on the task.'],
  ['errored', 'Errored', 'The holder reported an error.'],
  ['abandoned_claims', 'Claims that ran out', 'The holder stopped heartbeating; the task went back to the queue.'],
  ['silent_holders', 'Silent holders', 'Held, but no heartbeat for more than half the lease.'],
  ['overdue', 'Overdue', 'Past its due date and not done.'],
  ['looping', 'Reopened again and again', 'Reopened three times or more: maybe it needs a human.'],
];

export const FleetPage: FC<{ viewer: Viewer; attention: Attention }> = ({ viewer, attention }) => {
  const any = ATTENTION_TITLES.some(([k]) => attention.buckets[k].length > 0);
  return (
    <Layout title="Attention" viewer={viewer} section="fleet">
      <h1>What needs a human now</h1>
      {any ? null : (
        <EmptyNote>
          Nothing needs you right now. Tasks appear here when an agent waits on an answer, errors, goes silent, or a task is overdue.
        </EmptyNote>
      )}
      {ATTENTION_TITLES.filter(([k]) => attention.buckets[k].length > 0).map(([k, title, hint]) => (
        <section class="panel" aria-labelledby={`att-${k}`}>
          <h2 id={`att-${k}`}>
            {title} <span class="muted">({attention.buckets[k].length})</span>
          </h2>
          <p class="muted small">{hint}</p>
          <ul>
            {attention.buckets[k].map((t) => (
              <li>
                <a href={`/app/tasks/${t.id}`}>{t.content}</a>{' '}
                {t.session_state_detail ? <span class="muted">— {t.session_state_detail}</span> : null}
              </li>
            ))}
          </ul>
        </section>
      ))}
    </Layout>
  );
};

// ------------------------------------------------------------------ webhooks

export const WebhooksPage: FC<{ viewer: Viewer; webhooks: WebhookJson[]; created?: WebhookJson }> = ({ viewer, webhooks, created }) => (
  <Layout title="Webhooks" viewer={viewer} section="webhooks">
    <h1>Webhooks</h1>
    {created?.secret ? (
      <div class="panel notice" role="status">
        <p>
          Webhook for <code>{created.url}</code> created. Its signing secret is shown only once:
        </p>
        <p class="secret" data-secret="webhook-secret">
          {created.secret}
        </p>
      </div>
    ) : null}
    <div class="panel">
      <h2>Add a webhook</h2>
      <form method="post" action="/app/webhooks">
        <label for="webhook-url">URL</label>
        <input
          id="webhook-url"
          name="url"
          type="url"
          required
          maxlength={2048}
          placeholder="https://example.com/hooks/delega"
          class="wide"
        />
        <fieldset class="bare">
          <legend class="small muted">Events</legend>
          {TASK_EVENTS.map((e) => (
            <label class="check">
              <input type="checkbox" name="events" value={e} checked={e === 'task.created' || e === 'task.completed'} /> {e}
            </label>
          ))}
        </fieldset>
        <label for="webhook-description">Description</label>
        <input id="webhook-description" name="description" maxlength={500} />
        <p>
          <button type="submit">Add webhook</button>
        </p>
      </form>
    </div>
    {webhooks.length === 0 ? (
      <EmptyNote>No webhooks yet. Add one above to have Delega POST signed task events to your systems.</EmptyNote>
    ) : (
      <div class="panel">
        <Table head={['URL', 'Events', 'Status']}>
          {webhooks.map((w) => (
            <tr>
              <td>
                <a href={`/app/webhooks/${w.id}`}>{w.url}</a>
                {w.description ? <div class="muted small">{w.description}</div> : null}
              </td>
              <td class="small">{w.events.join(', ')}</td>
              <td>{w.active ? 'active' : `disabled${w.disabled_reason ? `: ${w.disabled_reason}` : ''}`}</td>
            </tr>
          ))}
        </Table>
      </div>
    )}
  </Layout>
);

export const WebhookPage: FC<{ viewer: Viewer; webhook: WebhookJson; deliveries: DeliveryJson[]; notice?: string }> = ({
  viewer,
  webhook,
  deliveries,
  notice,
}) => (
  <Layout title="Webhook" viewer={viewer} section="webhooks">
    <p class="small">
      <a href="/app/webhooks">← Webhooks</a>
    </p>
    <h1>{webhook.url}</h1>
    <Notice text={notice} />
    <div class="panel">
      <Facts
        rows={[
          ['Events', webhook.events.join(', ')],
          ['Status', webhook.active ? 'active' : `disabled${webhook.disabled_reason ? `: ${webhook.disabled_reason}` : ''}`],
          ['Failures in a row', String(webhook.consecutive_failures)],
          ['Created', webhook.created_at],
        ]}
      />
      <form method="post" action={`/app/webhooks/${webhook.id}/ping`}>
        <p>
          <button type="submit">Send a test ping</button>
        </p>
      </form>
    </div>
    <section class="panel" aria-labelledby="h-deliveries">
      <h2 id="h-deliveries">Delivery log</h2>
      {deliveries.length === 0 ? (
        <p class="muted">No deliveries yet. Send a test ping, or change a task.</p>
      ) : (
        <Table head={['Event', 'Status', 'Attempts', 'Created', '']}>
          {deliveries.map((d) => (
            <tr data-delivery-id={d.id}>
              <td>{d.event}</td>
              <td data-delivery-status>{d.status}</td>
              <td class="small">
                {d.attempts.length === 0
                  ? '—'
                  : d.attempts.map((a) => (
                      <div>
                        #{a.attempt}: {a.status_code ?? a.error ?? 'no answer'} ({a.duration_ms} ms)
                      </div>
                    ))}
              </td>
              <td class="small">{d.created_at}</td>
              <td>
                <form method="post" action={`/app/webhooks/${webhook.id}/deliveries/${d.id}/redeliver`}>
                  <button class="quiet" type="submit">
                    Redeliver
                  </button>
                </form>
              </td>
            </tr>
          ))}
        </Table>
      )}
    </section>
  </Layout>
);

// ------------------------------------------------------------------ usage

export const UsagePage: FC<{ viewer: Viewer; usage: UsageJson; agentCount: number; agentLimit: number; billingConfigured: boolean }> = ({
  viewer,
  usage,
  agentCount,
  agentLimit,
  billingConfigured,
}) => (
  <Layout title="Usage & billing" viewer={viewer} section="usage">
    <h1>Usage &amp; billing</h1>
    <div class="panel">
      <Facts
        rows={[
          ['Plan', <strong>{usage.plan}</strong>],
          ['Tasks this month', `${usage.task_count} of ${usage.task_limit} (${usage.tasks_remaining} left, resets ${usage.reset_date})`],
          ['Agents', `${agentCount} of ${agentLimit}`],
          ['Requests per minute per key', String(usage.rate_limit.requests_per_minute)],
          ['Context per task', `${usage.limits.context_bytes} bytes`],
          ['Delegation depth', String(usage.limits.delegation_depth)],
        ]}
      />
    </div>
    <div class="panel">
      <h2>Plan</h2>
      {billingConfigured ? (
        <div class="row">
          {usage.plan !== 'pro' ? (
            <form method="post" action="/app/billing/checkout">
              <input type="hidden" name="plan" value="pro" />
              <button type="submit">Upgrade to Pro</button>
            </form>
          ) : null}
          {usage.plan !== 'scale' ? (
            <form method="post" action="/app/billing/checkout">
              <input type="hidden" name="plan" value="scale" />
              <button type="submit">Upgrade to Scale</button>
            </form>
          ) : null}
          <form method="post" action="/app/billing/portal">
            <button class="quiet" type="submit">
              Manage billing
            </button>
          </form>
        </div>
      ) : (
        <p class="muted">Billing is not configured on this server.</p>
      )}
    </div>
    <div class="panel">
      <h2>Sessions</h2>
      <p class="muted">Signed in as {viewer.email}. Lost a device? End every dashboard session of yours at once.</p>
      <form method="post" action="/app/sign-out-everywhere" data-confirm="Sign out on every device?">
        <button class="danger" type="submit">
          Sign out everywhere
        </button>
      </form>
    </div>
  </Layout>
);

export type { ProjectJson };
