/**
 * The task page's history, subtasks and links, delegation from a board card, and which moves
 * the board offers a card to drag, in workerd against real D1: each as the API sees it.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { api } from '../helpers/fixtures';
import { post, send, signedInHuman } from '../helpers/dashboard';

const newTask = async (key: string, body: Record<string, unknown> = {}) =>
  (await api('POST', '/v1/tasks', key, { content: 'Ship the release', ...body })).body as { id: string };

describe('task page: subtasks and links', () => {
  it('adds, checks off and deletes subtasks; adds and removes links; as the API sees them', async () => {
    const { cookie, apiKey } = await signedInHuman();
    const task = await newTask(apiKey);
    const added = await post(`/app/tasks/${task.id}/subtasks`, { content: 'Tag the build' }, cookie);
    expect(added.status).toBe(303);
    expect(added.headers.get('Location')).toBe(`/app/tasks/${task.id}#h-subtasks`);
    await post(`/app/tasks/${task.id}/subtasks`, { content: 'Write notes' }, cookie);
    let subs = (await api('GET', `/v1/tasks/${task.id}/subtasks`, apiKey)).body;
    expect(subs.map((s: { content: string }) => s.content)).toEqual(['Tag the build', 'Write notes']);
    expect((await post(`/app/tasks/${task.id}/subtasks/${subs[0].id}/toggle`, {}, cookie)).status).toBe(303);
    expect((await api('GET', `/v1/tasks/${task.id}/subtasks`, apiKey)).body[0].completed).toBe(true);
    const page = await send(`/app/tasks/${task.id}`, { cookie });
    expect(page.html).toContain('aria-label="Uncheck Tag the build"');
    expect(page.html).toContain('aria-label="Check off Write notes"');
    expect((await post(`/app/tasks/${task.id}/subtasks/${subs[1].id}/delete`, {}, cookie)).status).toBe(303);
    subs = (await api('GET', `/v1/tasks/${task.id}/subtasks`, apiKey)).body;
    expect(subs).toHaveLength(1);

    expect(
      (
        await post(
          `/app/tasks/${task.id}/links`,
          { kind: 'pr', ref: '#42', repo: 'acme/api', url: 'https://github.com/acme/api/pull/42' },
          cookie,
        )
      ).status,
    ).toBe(303);
    expect((await post(`/app/tasks/${task.id}/links`, { kind: 'branch', ref: 'release/1.2', repo: '', url: '' }, cookie)).status).toBe(303);
    const links = (await api('GET', `/v1/tasks/${task.id}/links`, apiKey)).body;
    expect(links).toMatchObject([
      { kind: 'pr', ref: '#42', repo: 'acme/api', url: 'https://github.com/acme/api/pull/42' },
      { kind: 'branch', ref: 'release/1.2', repo: null, url: null },
    ]);
    expect((await send(`/app/tasks/${task.id}`, { cookie })).html).toContain('href="https://github.com/acme/api/pull/42"');
    expect((await post(`/app/tasks/${task.id}/links/${links[0].id}/delete`, {}, cookie)).status).toBe(303);
    expect((await api('GET', `/v1/tasks/${task.id}/links`, apiKey)).body).toMatchObject([{ kind: 'branch' }]);
    // The API removes links the same way.
    expect((await api('DELETE', `/v1/tasks/${task.id}/links/${links[1].id}`, apiKey)).body).toEqual({ deleted: true, id: links[1].id });
    expect((await api('GET', `/v1/tasks/${task.id}/links`, apiKey)).body).toEqual([]);
  });

  it('refuses bad input and other accounts plainly, and changes nothing', async () => {
    const mine = await signedInHuman();
    const theirs = await signedInHuman();
    const task = await newTask(mine.apiKey);
    expect((await post(`/app/tasks/${task.id}/subtasks`, { content: '  ' }, mine.cookie)).status).toBe(400);
    expect((await post(`/app/tasks/${task.id}/subtasks`, { content: 'x'.repeat(501) }, mine.cookie)).status).toBe(400);
    expect((await post(`/app/tasks/${task.id}/links`, { kind: 'pr', ref: '#1', url: 'javascript:alert(1)' }, mine.cookie)).status).toBe(
      400,
    );
    expect((await post(`/app/tasks/${task.id}/links`, { kind: 'tweet', ref: 'x' }, mine.cookie)).status).toBe(400);
    expect((await post(`/app/tasks/${task.id}/links`, { kind: 'pr', ref: '' }, mine.cookie)).status).toBe(400);
    expect((await post(`/app/tasks/${task.id}/subtasks/stk_nothing/toggle`, {}, mine.cookie)).status).toBe(404);
    expect((await post(`/app/tasks/${task.id}/links/lnk_nothing/delete`, {}, mine.cookie)).status).toBe(404);

    const sub = (await api('POST', `/v1/tasks/${task.id}/subtasks`, mine.apiKey, { content: 'mine' })).body;
    const link = (await api('POST', `/v1/tasks/${task.id}/links`, mine.apiKey, { kind: 'commit', ref: 'abc1234' })).body;
    expect((await post(`/app/tasks/${task.id}/subtasks`, { content: 'theirs' }, theirs.cookie)).status).toBe(404);
    expect((await post(`/app/tasks/${task.id}/subtasks/${sub.id}/toggle`, {}, theirs.cookie)).status).toBe(404);
    expect((await post(`/app/tasks/${task.id}/subtasks/${sub.id}/delete`, {}, theirs.cookie)).status).toBe(404);
    expect((await post(`/app/tasks/${task.id}/links`, { kind: 'pr', ref: '#9' }, theirs.cookie)).status).toBe(404);
    expect((await post(`/app/tasks/${task.id}/links/${link.id}/delete`, {}, theirs.cookie)).status).toBe(404);
    // A link is removed only through its own task.
    const other = await newTask(mine.apiKey);
    expect((await post(`/app/tasks/${other.id}/links/${link.id}/delete`, {}, mine.cookie)).status).toBe(404);
    expect((await api('GET', `/v1/tasks/${task.id}/subtasks`, mine.apiKey)).body).toMatchObject([{ content: 'mine', completed: false }]);
    expect((await api('GET', `/v1/tasks/${task.id}/links`, mine.apiKey)).body).toMatchObject([{ ref: 'abc1234' }]);

    // A completed task's subtasks and links are read-only, here as in the API.
    await api('POST', `/v1/tasks/${task.id}/complete`, mine.apiKey, {});
    expect((await post(`/app/tasks/${task.id}/subtasks`, { content: 'late' }, mine.cookie)).status).toBe(409);
    expect((await post(`/app/tasks/${task.id}/links/${link.id}/delete`, {}, mine.cookie)).status).toBe(409);
    const page = await send(`/app/tasks/${task.id}`, { cookie: mine.cookie });
    expect(page.html).not.toContain('aria-label="New subtask"');
  });
});

describe('task page: history', () => {
  it('tells creation, claims, delegation, context, comments and completion in one timeline, oldest first', async () => {
    const { cookie, apiKey } = await signedInHuman();
    const worker = (await api('POST', '/v1/agents', apiKey, { name: 'hist-worker', display_name: 'Hist Worker', role: 'worker' })).body as {
      id: string;
      api_key: string;
    };
    const task = await newTask(apiKey, { labels: ['hist'] });
    const claimed = await api('POST', '/v1/tasks/claim', worker.api_key, { labels: ['hist'], lease_seconds: 300 });
    expect(claimed.body.task.id).toBe(task.id);
    await api('PATCH', `/v1/tasks/${task.id}/context`, worker.api_key, { step: 'tests' });
    await api('POST', `/v1/tasks/${task.id}/release`, worker.api_key, {});
    await post(`/app/tasks/${task.id}/comments`, { content: 'Please finish today' }, cookie);
    await post(`/app/tasks/${task.id}/delegate`, { content: 'Update the changelog' }, cookie);
    await post(`/app/tasks/${task.id}/complete`, { evidence_kind: 'commit', evidence_ref: 'abc1234' }, cookie);

    // Everything above happened within a second or two: spread the stored times so the order is the test's.
    const at = (s: number) => `2030-01-01T00:00:0${s}Z`;
    await env.DB.batch([
      env.DB.prepare('update tasks set created_at = ? where id = ?').bind(at(0), task.id),
      env.DB.prepare('update runs set claimed_at = ?, ended_at = ? where task_id = ?').bind(at(1), at(3), task.id),
      env.DB.prepare('update task_context_history set created_at = ? where task_id = ?').bind(at(2), task.id),
      env.DB.prepare('update comments set created_at = ? where task_id = ?').bind(at(4), task.id),
      env.DB.prepare('update tasks set created_at = ? where parent_task_id = ?').bind(at(5), task.id),
      env.DB.prepare('update tasks set completed_at = ? where id = ?').bind(at(6), task.id),
    ]);
    const html = (await send(`/app/tasks/${task.id}`, { cookie })).html;
    const history = html.slice(html.indexOf('id="h-history"'), html.indexOf('</ol>', html.indexOf('id="h-history"')));
    const kinds = [...history.matchAll(/data-kind="(\w+)"/g)].map((m) => m[1]);
    expect(kinds).toEqual(['created', 'claimed', 'context', 'released', 'comment', 'delegated', 'completed']);
    expect(history).toContain('Claimed by Hist Worker');
    expect(history).toContain('Hist Worker released its claim');
    expect(history).toContain('Ada (human) commented: Please finish today');
    expect(history).toContain('Delegated “Update the changelog”');
    expect(history).toContain('with 1 evidence item');
    expect(history).toContain('Context step set');
    expect(history).toContain('2030-01-01 00:00:00</span> Created by');
  });
});

describe('board: delegate from a card, and what a card may be dragged to', () => {
  it('delegates from the card and comes back to the board', async () => {
    const { cookie, apiKey } = await signedInHuman();
    const task = await newTask(apiKey);
    const board = await send('/app', { cookie });
    expect(board.html).toContain(`action="/app/tasks/${task.id}/delegate"`);
    const res = await post(`/app/tasks/${task.id}/delegate`, { content: 'Split out the docs', back: '/app?label=x' }, cookie);
    expect(res.status).toBe(303);
    expect(res.headers.get('Location')).toBe('/app?label=x');
    const children = (await api('GET', `/v1/tasks/${task.id}/children`, apiKey)).body;
    expect(children).toMatchObject([{ content: 'Split out the docs', parent_task_id: task.id }]);
    expect((await post(`/app/tasks/${task.id}/delegate`, { content: '' }, cookie)).status).toBe(400);
  });

  it('offers open cards a move to done and done cards a move to open, as the authorisation table allows', async () => {
    const { cookie, apiKey } = await signedInHuman();
    const worker = (await api('POST', '/v1/agents', apiKey, { name: 'drag-worker', role: 'worker' })).body as { api_key: string };
    const open = await newTask(apiKey, { content: 'open one' });
    const done = await newTask(apiKey, { content: 'done one' });
    await api('POST', `/v1/tasks/${done.id}/complete`, apiKey, {});
    const held = await newTask(apiKey, { content: 'held one', labels: ['held'] });
    await api('POST', '/v1/tasks/claim', worker.api_key, { labels: ['held'], lease_seconds: 300 });
    const html = (await send('/app', { cookie })).html;
    const card = (id: string) =>
      html.slice(html.indexOf(`data-task-id="${id}"`) - 40, html.indexOf('>', html.indexOf(`data-task-id="${id}"`)));
    expect(card(open.id)).toContain('draggable="true" data-moves="done"');
    expect(card(done.id)).toContain('draggable="true" data-moves="open"');
    // The account's admin may complete a task another agent holds (the API allows it), never release it.
    expect(card(held.id)).toContain('data-moves="done"');
  });
});
