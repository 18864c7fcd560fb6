/**
 * The task page's history (one timeline built from what is stored: the task row, its runs,
 * delegated children, context writes and comments), and its editable subtasks and links.
 */
import type { FC } from 'hono/jsx';
import type { AgentJson } from '../accounts/agents';
import { LINK_KINDS } from '../tasks/task-links';
import type { TaskPageData } from './queries';

export interface HistoryEntry {
  at: string;
  kind: 'created' | 'claimed' | 'finished' | 'released' | 'expired' | 'completed' | 'delegated' | 'context' | 'comment';
  text: string;
}

const RUN_ENDS = { completed: 'finished its claim (completed)', released: 'released its claim', expired: 'let its claim run out' } as const;

/** Oldest first; entries at the same second keep the order in which they happen to a task. */
export function timeline(data: TaskPageData, name: (id: string | null) => string | null): HistoryEntry[] {
  const t = data.task;
  const who = (id: string | null) => name(id) ?? 'someone';
  const entries: HistoryEntry[] = [{ at: t.created_at, kind: 'created', text: `Created by ${who(t.created_by_agent_id)}` }];
  for (const r of data.runs) {
    entries.push({ at: r.claimed_at, kind: 'claimed', text: `Claimed by ${who(r.agent_id)}` });
    if (r.ended_at && r.outcome)
      entries.push({
        at: r.ended_at,
        kind: r.outcome === 'completed' ? 'finished' : r.outcome,
        text: `${who(r.agent_id)} ${RUN_ENDS[r.outcome]}`,
      });
  }
  for (const child of data.chain.filter((c) => c.parent_task_id === t.id)) {
    entries.push({
      at: child.created_at,
      kind: 'delegated',
      text: `Delegated “${child.content}”${child.assigned_to_agent_id ? ` to ${who(child.assigned_to_agent_id)}` : ''}`,
    });
  }
  for (const h of data.history)
    entries.push({
      at: h.created_at,
      kind: 'context',
      text: `Context ${h.key} ${h.value === null ? 'removed' : 'set'} (v${h.version}, ${h.source}) by ${who(h.agent_id)}`,
    });
  for (const c of data.comments)
    entries.push({
      at: c.created_at,
      kind: 'comment',
      text: `${c.author ?? who(c.agent_id)} commented: ${c.content.length > 140 ? `${c.content.slice(0, 140)}…` : c.content}`,
    });
  if (t.completed_at) {
    const evidence = t.completion_evidence.length
      ? ` with ${t.completion_evidence.length} evidence item${t.completion_evidence.length === 1 ? '' : 's'}`
      : '';
    entries.push({ at: t.completed_at, kind: 'completed', text: `Completed by ${who(t.completed_by_agent_id)}${evidence}` });
  }
  const order: HistoryEntry['kind'][] = [
    'created',
    'claimed',
    'delegated',
    'context',
    'comment',
    'finished',
    'released',
    'expired',
    'completed',
  ];
  return entries.sort((a, b) => a.at.localeCompare(b.at) || order.indexOf(a.kind) - order.indexOf(b.kind));
}

export const HistorySection: FC<{ data: TaskPageData; name: (id: string | null) => string | null }> = ({ data, name }) => {
  const entries = timeline(data, name);
  return (
    <section class="panel" aria-labelledby="h-history">
      <h2 id="h-history">History</h2>
      <ol class="timeline">
        {entries.map((e) => (
          <li data-kind={e.kind}>
            <span class="muted small">{e.at.replace('T', ' ').replace('Z', '')}</span> {e.text}
          </li>
        ))}
      </ol>
      {data.task.reopen_count ? (
        <p class="muted small">
          Reopened {data.task.reopen_count} time{data.task.reopen_count === 1 ? '' : 's'} in all.
        </p>
      ) : null}
      <p class="muted small">Edits of the task's fields are not kept as history; session states show only as they are now.</p>
    </section>
  );
};

export const SubtasksSection: FC<{ data: TaskPageData }> = ({ data }) => {
  const t = data.task;
  const base = `/app/tasks/${t.id}/subtasks`;
  return (
    <section class="panel" aria-labelledby="h-subtasks">
      <h2 id="h-subtasks">Subtasks</h2>
      {data.subtasks.length ? (
        <ul class="plain">
          {data.subtasks.map((s) => (
            <li data-subtask-id={s.id}>
              {t.completed ? (
                <span>
                  {s.completed ? '☑' : '☐'} {s.content}
                </span>
              ) : (
                <div class="row">
                  <form method="post" action={`${base}/${s.id}/toggle`}>
                    <button
                      class="quiet check-box"
                      type="submit"
                      aria-pressed={s.completed ? 'true' : 'false'}
                      aria-label={`${s.completed ? 'Uncheck' : 'Check off'} ${s.content}`}
                    >
                      {s.completed ? '☑' : '☐'}
                    </button>
                  </form>
                  <span class={s.completed ? 'done-text' : undefined}>{s.content}</span>
                  <form method="post" action={`${base}/${s.id}/delete`} class="push">
                    <button class="quiet" type="submit" aria-label={`Delete subtask ${s.content}`}>
                      ×
                    </button>
                  </form>
                </div>
              )}
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">None.</p>
      )}
      {t.completed ? null : (
        <form method="post" action={base} class="row">
          <input name="content" required maxlength={500} aria-label="New subtask" placeholder="Add a step" class="grow" />
          <button type="submit">Add</button>
        </form>
      )}
    </section>
  );
};

export const LinksSection: FC<{ data: TaskPageData; agents: AgentJson[] }> = ({ data }) => {
  const t = data.task;
  const base = `/app/tasks/${t.id}/links`;
  return (
    <section class="panel" aria-labelledby="h-links">
      <h2 id="h-links">Links</h2>
      {data.links.length ? (
        <ul class="plain">
          {data.links.map((l) => (
            <li data-link-id={l.id} class="row">
              <span>
                <span class="chip">{l.kind}</span>{' '}
                {l.url && /^https?:\/\//.test(l.url) ? (
                  <a href={l.url} rel="noopener noreferrer">
                    {l.ref}
                  </a>
                ) : (
                  <code>{l.ref}</code>
                )}{' '}
                {l.repo ? <span class="muted small">{l.repo}</span> : null}
              </span>
              {t.completed ? null : (
                <form method="post" action={`${base}/${l.id}/delete`} class="push">
                  <button class="quiet" type="submit" aria-label={`Remove link ${l.ref}`}>
                    ×
                  </button>
                </form>
              )}
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">None.</p>
      )}
      {t.completed ? null : (
        <form method="post" action={base}>
          <div class="row">
            <select name="kind" aria-label="Link kind">
              {LINK_KINDS.map((k) => (
                <option value={k}>{k}</option>
              ))}
            </select>
            <input name="ref" required maxlength={500} aria-label="Link reference" placeholder="branch, sha, PR #" class="grow" />
          </div>
          <div class="row">
            <input name="repo" maxlength={200} aria-label="Link repository" placeholder="owner/repo" />
            <input name="url" type="url" maxlength={2000} aria-label="Link URL" placeholder="https://…" class="grow" />
            <button type="submit">Link</button>
          </div>
        </form>
      )}
    </section>
  );
};
