/** The condition vocabulary and placeholders, on task answers as the engine sees them. */
import { describe, expect, it } from 'vitest';
import { matches, renderText, type Condition } from '../../src/automations/rules';
import type { TaskJson } from '../../src/tasks/task-json';

const task = (fields: Partial<TaskJson> = {}) =>
  ({
    id: 'tsk_1',
    content: 'Fix login',
    priority: 2,
    labels: ['bug', 'web'],
    project_id: 'prj_1',
    assigned_to_agent_id: null,
    created_by_agent_id: 'agt_a',
    due_date: null,
    source_ingress_id: null,
    ...fields,
  }) as TaskJson;

const when =
  (...conditions: Condition[]) =>
  (t: TaskJson) =>
    matches(conditions, t);

describe('conditions', () => {
  it('match each field with its ops, AND-combined', () => {
    expect(when()(task())).toBe(true);
    expect(when({ field: 'label', op: 'has', value: 'bug' })(task())).toBe(true);
    expect(when({ field: 'label', op: 'not_has', value: 'bug' })(task())).toBe(false);
    expect(when({ field: 'priority', op: 'gte', value: 2 }, { field: 'priority', op: 'lte', value: 2 })(task())).toBe(true);
    expect(when({ field: 'priority', op: 'gte', value: 3 })(task())).toBe(false);
    expect(when({ field: 'priority', op: 'neq', value: 2 })(task())).toBe(false);
    expect(when({ field: 'assigned_to_agent_id', op: 'is_null' })(task())).toBe(true);
    expect(when({ field: 'assigned_to_agent_id', op: 'not_null' })(task())).toBe(false);
    expect(when({ field: 'assigned_to_agent_id', op: 'neq', value: 'agt_b' })(task())).toBe(true);
    expect(when({ field: 'assigned_to_agent_id', op: 'eq', value: 'agt_b' })(task({ assigned_to_agent_id: 'agt_b' }))).toBe(true);
    expect(
      when({ field: 'project_id', op: 'eq', value: 'prj_1' }, { field: 'created_by_agent_id', op: 'eq', value: 'agt_z' })(task()),
    ).toBe(false);
    expect(when({ field: 'source', op: 'eq', value: 'api' })(task())).toBe(true);
    expect(when({ field: 'source', op: 'eq', value: 'ingress' })(task({ source_ingress_id: 'ing_1' }))).toBe(true);
    expect(when({ field: 'source', op: 'neq', value: 'ingress' })(task({ source_ingress_id: 'ing_1' }))).toBe(false);
  });
});

describe('placeholders', () => {
  it('render the event and the task fields; unknown ones render empty', () => {
    expect(
      renderText(
        '{{event}} {{task.id}} {{ task.content }} p{{task.priority}} [{{task.labels}}] {{task.project_id}} {{task.due_date}}|{{task.secret}}',
        'task.created',
        task(),
      ),
    ).toBe('task.created tsk_1 Fix login p2 [bug, web] prj_1 |');
  });
});
