/**
 * Pages for recurrences, automation rules (with their run log) and ingress sources (with their
 * delivery log; the signing secret shown once). Plain forms; rules' conditions and actions and a
 * source's filters are edited as the JSON the API takes.
 */
import type { FC } from 'hono/jsx';
import type { AgentJson } from '../accounts/agents';
import type { RecurrenceJson } from '../recurrences/recurrences';
import type { AutomationJson, AutomationRunJson } from '../automations/store';
import type { IngressDeliveryJson, IngressSourceJson } from '../ingress/sources';
import { TASK_EVENTS } from '../webhooks/events';
import type { Choices } from './workflow-queries';
import {
  AgentOptions,
  agentLabel,
  agentName,
  DeleteForm,
  EmptyNote,
  Facts,
  Notice,
  PauseForm,
  PriorityOptions,
  ProjectOptions,
  Table,
} from './kit';
import { Layout, type Viewer } from './views';

const RULE_TYPES = ['daily', 'weekly', 'monthly', 'yearly'] as const;

const AgentSelect: FC<{ id: string; name: string; label: string; agents: AgentJson[]; selected: string | null }> = ({
  id,
  name,
  label,
  agents,
  selected,
}) => (
  <div>
    <label for={id}>{label}</label>
    <select id={id} name={name}>
      <AgentOptions agents={agents} empty="(nobody)" selected={selected} />
    </select>
  </div>
);

const ProjectSelect: FC<{ id: string; name: string; choices: Choices; selected: string | null }> = ({ id, name, choices, selected }) => (
  <div>
    <label for={id}>Project</label>
    <select id={id} name={name}>
      <ProjectOptions projects={choices.projects} empty="(none)" selected={selected} />
    </select>
  </div>
);

const PrioritySelect: FC<{ id: string; selected: number }> = ({ id, selected }) => (
  <div>
    <label for={id}>Priority</label>
    <select id={id} name="priority">
      <PriorityOptions selected={selected} />
    </select>
  </div>
);

// ------------------------------------------------------------------ recurrences

function ruleText(r: RecurrenceJson): string {
  const unit = { daily: 'day', weekly: 'week', monthly: 'month', yearly: 'year' }[r.rule_type];
  return `every ${r.interval === 1 ? unit : `${r.interval} ${unit}s`} (${r.timezone})`;
}

const RecurrenceFields: FC<{ r?: RecurrenceJson; choices: Choices; prefix: string }> = ({ r, choices, prefix }) => (
  <>
    <label for={`${prefix}-content`}>Task</label>
    <input
      id={`${prefix}-content`}
      name="content"
      required
      maxlength={500}
      value={r?.content ?? ''}
      class="wide"
      placeholder="Rotate the on-call rota"
    />
    <div class="row">
      <div>
        <label for={`${prefix}-rule`}>Repeats</label>
        <select id={`${prefix}-rule`} name="rule_type">
          {RULE_TYPES.map((t) => (
            <option value={t} selected={t === (r?.rule_type ?? 'weekly')}>
              {t}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label for={`${prefix}-interval`}>Every</label>
        <input id={`${prefix}-interval`} name="interval" type="number" min={1} max={1000} value={String(r?.interval ?? 1)} size={4} />
      </div>
      <div>
        <label for={`${prefix}-timezone`}>Time zone</label>
        <input id={`${prefix}-timezone`} name="timezone" value={r?.timezone ?? 'UTC'} maxlength={64} size={16} />
      </div>
      <div>
        <label for={`${prefix}-next`}>Next due</label>
        <input id={`${prefix}-next`} name="next_due_at" type="date" />
      </div>
      <PrioritySelect id={`${prefix}-priority`} selected={r?.priority ?? 1} />
      <div>
        <label for={`${prefix}-labels`}>Labels</label>
        <input id={`${prefix}-labels`} name="labels" value={r?.labels.join(', ') ?? ''} size={12} />
      </div>
      <ProjectSelect id={`${prefix}-project`} name="project_id" choices={choices} selected={r?.project_id ?? null} />
      <AgentSelect
        id={`${prefix}-assignee`}
        name="assigned_to_agent_id"
        label="Assign to"
        agents={choices.agents}
        selected={r?.assigned_to_agent_id ?? null}
      />
    </div>
    <label class="check">
      <input type="checkbox" name="skip_if_open" value="true" checked={r?.skip_if_open ?? false} /> Skip an occurrence while the last task
      is still open
    </label>
  </>
);

export const RecurrencesPage: FC<{ viewer: Viewer; data: Choices & { recurrences: RecurrenceJson[] }; notice?: string }> = ({
  viewer,
  data,
  notice,
}) => (
  <Layout title="Recurrences" viewer={viewer} section="recurrences">
    <h1>Recurrences</h1>
    <Notice text={notice} />
    <div class="panel">
      <h2>New recurrence</h2>
      <form method="post" action="/app/recurrences" aria-label="New recurrence">
        <RecurrenceFields choices={data} prefix="new-rec" />
        <p>
          <button type="submit">Create recurrence</button>
        </p>
      </form>
    </div>
    {data.recurrences.length === 0 ? (
      <EmptyNote>
        No recurrences yet. A recurrence makes an ordinary task at each occurrence (the next one is shown here), for agents to claim.
      </EmptyNote>
    ) : (
      <div class="panel">
        <Table head={['Task', 'Repeats', 'Next due', 'Status', 'Actions']}>
          {data.recurrences.map((r) => (
            <tr data-recurrence-id={r.id}>
              <td>
                <a href={`/app/recurrences/${r.id}`}>{r.content}</a>
                {r.assigned_to_agent_id ? <div class="muted small">for {agentName(data.agents, r.assigned_to_agent_id)}</div> : null}
              </td>
              <td>{ruleText(r)}</td>
              <td class="small">{r.next_due_at}</td>
              <td data-state>{r.active ? 'active' : 'paused'}</td>
              <td class="row">
                <PauseForm action={`/app/recurrences/${r.id}`} active={r.active} what={r.content} />
                <DeleteForm
                  action={`/app/recurrences/${r.id}`}
                  what={r.content}
                  confirm={`Delete the recurrence "${r.content}"? Tasks it made stay.`}
                />
              </td>
            </tr>
          ))}
        </Table>
      </div>
    )}
  </Layout>
);

export const RecurrencePage: FC<{ viewer: Viewer; data: Choices & { recurrence: RecurrenceJson } }> = ({ viewer, data }) => {
  const r = data.recurrence;
  return (
    <Layout title={r.content} viewer={viewer} section="recurrences">
      <p class="small">
        <a href="/app/recurrences">← Recurrences</a>
      </p>
      <h1>{r.content}</h1>
      <div class="panel">
        <Facts
          rows={[
            ['Repeats', ruleText(r)],
            ['Next due', r.next_due_at],
            ['Status', r.active ? 'active' : 'paused'],
            ['Last task made', r.last_spawned_at],
            ['Created by', agentName(data.agents, r.created_by_agent_id)],
          ]}
        />
        <div class="row">
          <PauseForm action={`/app/recurrences/${r.id}`} active={r.active} what={r.content} />
          <DeleteForm
            action={`/app/recurrences/${r.id}`}
            what={r.content}
            confirm={`Delete the recurrence "${r.content}"? Tasks it made stay.`}
          />
        </div>
      </div>
      <div class="panel">
        <h2>Edit</h2>
        <form method="post" action={`/app/recurrences/${r.id}/edit`}>
          <RecurrenceFields r={r} choices={data} prefix="edit-rec" />
          <input type="hidden" name="was_rule_type" value={r.rule_type} />
          <input type="hidden" name="was_interval" value={String(r.interval)} />
          <input type="hidden" name="was_timezone" value={r.timezone} />
          <p class="small muted">Leave “Next due” empty to keep the schedule; changing how it repeats starts it again from now.</p>
          <p>
            <button type="submit">Save</button>
          </p>
        </form>
      </div>
    </Layout>
  );
};

// ------------------------------------------------------------------ automations

/** A rule's or a source's name: the wide first field of its form. */
const NameField: FC<{ id: string; value: string; placeholder: string }> = ({ id, value, placeholder }) => (
  <div class="grow">
    <label for={id}>Name</label>
    <input id={id} name="name" required maxlength={80} value={value} class="wide" placeholder={placeholder} />
  </div>
);

const JSON_HINT_CONDITIONS = '[{"field":"label","op":"has","value":"ci"}]';
const JSON_HINT_ACTIONS = '[{"type":"assign","agent_id":"agt_..."}]';

const AutomationFields: FC<{ a?: AutomationJson; prefix: string }> = ({ a, prefix }) => (
  <>
    <div class="row">
      <NameField id={`${prefix}-name`} value={a?.name ?? ''} placeholder="Route CI failures to build-bot" />
      <div>
        <label for={`${prefix}-event`}>When</label>
        <select id={`${prefix}-event`} name="event">
          {TASK_EVENTS.map((e) => (
            <option value={e} selected={e === (a?.event ?? 'task.created')}>
              {e}
            </option>
          ))}
        </select>
      </div>
    </div>
    <label for={`${prefix}-conditions`}>Conditions (JSON; all must hold)</label>
    <textarea id={`${prefix}-conditions`} name="conditions" maxlength={20000} placeholder={JSON_HINT_CONDITIONS}>
      {a ? JSON.stringify(a.conditions) : ''}
    </textarea>
    <label for={`${prefix}-actions`}>Actions (JSON, in order)</label>
    <textarea id={`${prefix}-actions`} name="actions" required maxlength={20000} placeholder={JSON_HINT_ACTIONS}>
      {a ? JSON.stringify(a.actions) : ''}
    </textarea>
  </>
);

/** Ids a rule's JSON may name, so a human need not look them up elsewhere. */
const IdsHelp: FC<{ choices: Choices }> = ({ choices }) => (
  <details class="small">
    <summary>Agent and project ids</summary>
    <ul>
      {choices.agents
        .filter((a) => a.active)
        .map((a) => (
          <li>
            {agentLabel(a)}: <code>{a.id}</code>
          </li>
        ))}
      {choices.projects.map((p) => (
        <li>
          project {p.name}: <code>{p.id}</code>
        </li>
      ))}
    </ul>
  </details>
);

export const AutomationsPage: FC<{ viewer: Viewer; data: Choices & { automations: AutomationJson[] }; notice?: string }> = ({
  viewer,
  data,
  notice,
}) => (
  <Layout title="Automations" viewer={viewer} section="automations">
    <h1>Automations</h1>
    <Notice text={notice} />
    <div class="panel">
      <h2>New rule</h2>
      <form method="post" action="/app/automations" aria-label="New rule">
        <AutomationFields prefix="new-rule" />
        <IdsHelp choices={data} />
        <p>
          <button type="submit">Create rule</button>
        </p>
      </form>
    </div>
    {data.automations.length === 0 ? (
      <EmptyNote>No rules yet. A rule acts on a task event inside the service: assign, label, comment, delegate, create a task.</EmptyNote>
    ) : (
      <div class="panel">
        <Table head={['Rule', 'When', 'Runs', 'Status', 'Actions']}>
          {data.automations.map((a) => (
            <tr data-automation-id={a.id}>
              <td>
                <a href={`/app/automations/${a.id}`}>{a.name}</a>
              </td>
              <td>{a.event}</td>
              <td>{a.run_count}</td>
              <td data-state>{a.active ? 'active' : `paused${a.disabled_reason ? `: ${a.disabled_reason}` : ''}`}</td>
              <td class="row">
                <PauseForm action={`/app/automations/${a.id}`} active={a.active} what={a.name} />
                <DeleteForm action={`/app/automations/${a.id}`} what={a.name} confirm={`Delete the rule "${a.name}" and its run log?`} />
              </td>
            </tr>
          ))}
        </Table>
      </div>
    )}
  </Layout>
);

export const AutomationPage: FC<{ viewer: Viewer; data: Choices & { automation: AutomationJson; runs: AutomationRunJson[] } }> = ({
  viewer,
  data,
}) => {
  const a = data.automation;
  return (
    <Layout title={a.name} viewer={viewer} section="automations">
      <p class="small">
        <a href="/app/automations">← Automations</a>
      </p>
      <h1>{a.name}</h1>
      <div class="panel">
        <Facts
          rows={[
            ['When', a.event],
            ['Status', a.active ? 'active' : `paused${a.disabled_reason ? `: ${a.disabled_reason}` : ''}`],
            ['Runs', String(a.run_count)],
            ['Failures in a row', String(a.failure_count)],
            ['Last run', a.last_run_at],
          ]}
        />
        <div class="row">
          <PauseForm action={`/app/automations/${a.id}`} active={a.active} what={a.name} />
          <DeleteForm action={`/app/automations/${a.id}`} what={a.name} confirm={`Delete the rule "${a.name}" and its run log?`} />
        </div>
      </div>
      <div class="panel">
        <h2>Edit</h2>
        <form method="post" action={`/app/automations/${a.id}/edit`}>
          <AutomationFields a={a} prefix="edit-rule" />
          <IdsHelp choices={data} />
          <p>
            <button type="submit">Save</button>
          </p>
        </form>
      </div>
      <section class="panel" aria-labelledby="h-runs">
        <h2 id="h-runs">Run log</h2>
        {data.runs.length === 0 ? (
          <p class="muted">No runs yet. The rule runs when {a.event} fires and its conditions hold.</p>
        ) : (
          <Table head={['When', 'Task', 'Status', 'Actions']}>
            {data.runs.map((r) => (
              <tr data-run-id={r.id}>
                <td class="small">{r.created_at}</td>
                <td>{r.task_id ? <a href={`/app/tasks/${r.task_id}`}>{r.task_id}</a> : '—'}</td>
                <td data-run-status>{r.status}</td>
                <td class="small">
                  {r.actions.map((x) => (
                    <div>
                      {x.type}: {x.outcome}
                      {x.detail ? ` (${x.detail})` : ''}
                    </div>
                  ))}
                </td>
              </tr>
            ))}
          </Table>
        )}
      </section>
    </Layout>
  );
};

// ------------------------------------------------------------------ ingress

const SourceFields: FC<{ s?: IngressSourceJson; choices: Choices; prefix: string }> = ({ s, choices, prefix }) => (
  <>
    <div class="row">
      <NameField id={`${prefix}-name`} value={s?.name ?? ''} placeholder="GitHub CI failures" />
      <ProjectSelect id={`${prefix}-project`} name="default_project_id" choices={choices} selected={s?.default_project_id ?? null} />
      <AgentSelect
        id={`${prefix}-assignee`}
        name="default_assignee_agent_id"
        label="Assign to"
        agents={choices.agents}
        selected={s?.default_assignee_agent_id ?? null}
      />
    </div>
    <label for={`${prefix}-content`}>Task title template</label>
    <input
      id={`${prefix}-content`}
      name="template_content"
      required
      maxlength={2000}
      value={s?.template.content ?? ''}
      class="wide"
      placeholder="CI failed: {{workflow.name}} on {{branch}}"
    />
    <label for={`${prefix}-description`}>Description template</label>
    <input id={`${prefix}-description`} name="template_description" maxlength={2000} value={s?.template.description ?? ''} class="wide" />
    <div class="row">
      <PrioritySelect id={`${prefix}-priority`} selected={s?.template.priority ?? 1} />
      <div>
        <label for={`${prefix}-labels`}>Labels</label>
        <input id={`${prefix}-labels`} name="template_labels" value={s?.template.labels?.join(', ') ?? ''} size={14} />
      </div>
      <div class="grow">
        <label for={`${prefix}-dedupe`}>Dedupe key template</label>
        <input
          id={`${prefix}-dedupe`}
          name="template_dedupe_key"
          maxlength={2000}
          value={s?.template.dedupe_key ?? ''}
          placeholder="{{run.id}}"
          class="wide"
        />
      </div>
    </div>
    <label for={`${prefix}-filters`}>Filters (JSON; all must hold)</label>
    <textarea
      id={`${prefix}-filters`}
      name="filters"
      maxlength={20000}
      placeholder='[{"path":"workflow.conclusion","op":"eq","value":"failure"}]'
    >
      {s ? JSON.stringify(s.filters) : ''}
    </textarea>
  </>
);

const SecretShown: FC<{ source: IngressSourceJson; baseUrl: string; rotated: boolean }> = ({ source, baseUrl, rotated }) => (
  <div class="panel notice" role="status">
    <p>
      {rotated ? 'New signing secret' : 'Signing secret'} for <strong>{source.name}</strong>. Copy it now: it is shown only once
      {rotated ? ', and the old one no longer works' : ''}.
    </p>
    <p class="secret" data-secret="ingress-secret">
      {source.secret}
    </p>
    <p class="small muted">
      Deliveries go to <code>{`${baseUrl}${source.ingest_path}`}</code>, signed with{' '}
      <code>X-Delega-Ingress-Signature: t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA-256 of "t.body"&gt;</code>.
    </p>
  </div>
);

export const IngressPage: FC<{
  viewer: Viewer;
  data: Choices & { sources: IngressSourceJson[] };
  created?: IngressSourceJson;
  baseUrl: string;
  notice?: string;
}> = ({ viewer, data, created, baseUrl, notice }) => (
  <Layout title="Ingress" viewer={viewer} section="ingress">
    <h1>Ingress sources</h1>
    <Notice text={notice} />
    {created?.secret ? <SecretShown source={created} baseUrl={baseUrl} rotated={false} /> : null}
    <div class="panel">
      <h2>New source</h2>
      <form method="post" action="/app/ingress" aria-label="New source">
        <SourceFields choices={data} prefix="new-src" />
        <p>
          <button type="submit">Create source</button>
        </p>
      </form>
    </div>
    {data.sources.length === 0 ? (
      <EmptyNote>No sources yet. A source is a signed endpoint that turns another system's events (CI, monitoring) into tasks.</EmptyNote>
    ) : (
      <div class="panel">
        <Table head={['Source', 'Endpoint', 'Deliveries', 'Status', 'Actions']}>
          {data.sources.map((s) => (
            <tr data-source-id={s.id}>
              <td>
                <a href={`/app/ingress/${s.id}`}>{s.name}</a>
              </td>
              <td>
                <code class="small">{s.ingest_path}</code>
              </td>
              <td>{s.delivery_count}</td>
              <td data-state>{s.active ? 'active' : 'paused'}</td>
              <td class="row">
                <PauseForm action={`/app/ingress/${s.id}`} active={s.active} what={s.name} />
                <DeleteForm
                  action={`/app/ingress/${s.id}`}
                  what={s.name}
                  confirm={`Delete the source "${s.name}" and its delivery log? Its endpoint stops at once.`}
                />
              </td>
            </tr>
          ))}
        </Table>
      </div>
    )}
  </Layout>
);

export const IngressSourcePage: FC<{
  viewer: Viewer;
  data: Choices & { source: IngressSourceJson; deliveries: IngressDeliveryJson[] };
  rotated?: IngressSourceJson;
  baseUrl: string;
}> = ({ viewer, data, rotated, baseUrl }) => {
  const s = data.source;
  return (
    <Layout title={s.name} viewer={viewer} section="ingress">
      <p class="small">
        <a href="/app/ingress">← Ingress sources</a>
      </p>
      <h1>{s.name}</h1>
      {rotated?.secret ? <SecretShown source={rotated} baseUrl={baseUrl} rotated /> : null}
      <div class="panel">
        <Facts
          rows={[
            ['Endpoint', <code>{`${baseUrl}${s.ingest_path}`}</code>],
            ['Status', s.active ? 'active' : 'paused'],
            ['Deliveries', String(s.delivery_count)],
            ['Last delivery', s.last_delivery_at],
          ]}
        />
        <div class="row">
          <PauseForm action={`/app/ingress/${s.id}`} active={s.active} what={s.name} />
          <form
            method="post"
            action={`/app/ingress/${s.id}/rotate`}
            data-confirm="Rotate the signing secret? The old one stops working at once."
          >
            <button class="quiet" type="submit">
              Rotate secret
            </button>
          </form>
          <DeleteForm
            action={`/app/ingress/${s.id}`}
            what={s.name}
            confirm={`Delete the source "${s.name}" and its delivery log? Its endpoint stops at once.`}
          />
        </div>
      </div>
      <div class="panel">
        <h2>Edit</h2>
        <form method="post" action={`/app/ingress/${s.id}/edit`}>
          <SourceFields s={s} choices={data} prefix="edit-src" />
          <p>
            <button type="submit">Save</button>
          </p>
        </form>
      </div>
      <section class="panel" aria-labelledby="h-deliveries">
        <h2 id="h-deliveries">Delivery log</h2>
        {data.deliveries.length === 0 ? (
          <p class="muted">No deliveries yet.</p>
        ) : (
          <Table head={['When', 'Outcome', 'Status', 'Body', 'Task']}>
            {data.deliveries.map((d) => (
              <tr data-delivery-id={d.id}>
                <td class="small">{d.created_at}</td>
                <td data-delivery-outcome>{d.outcome}</td>
                <td>{d.status_code}</td>
                <td class="small">
                  {d.body_bytes} bytes, <code>{d.body_sha256.slice(0, 12)}…</code>
                </td>
                <td>{d.task_id ? <a href={`/app/tasks/${d.task_id}`}>{d.task_id}</a> : '—'}</td>
              </tr>
            ))}
          </Table>
        )}
      </section>
    </Layout>
  );
};
