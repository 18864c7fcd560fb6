/**
 * The dashboard's stylesheet and its one small script, served by the Worker itself at
 * /app/assets/* (no CDN, no build step). Pages work without the script; it adds keyboard
 * shortcuts, live refresh of the board, dragging cards between columns and confirmation prompts.
 */

export const STYLESHEET = `
:root { color-scheme: light dark; --bg:#f6f7f9; --panel:#fff; --text:#14171c; --muted:#5b6472; --line:#dde1e7; --accent:#2457d6; --accent-text:#fff; --danger:#b42318; --ok:#137333; --warn:#a15c00; --chip:#eef1f6; }
@media (prefers-color-scheme: dark) { :root { --bg:#0f1115; --panel:#171a21; --text:#e6e9ef; --muted:#9aa3b2; --line:#2a2f3a; --accent:#6b93ff; --accent-text:#0b0d12; --danger:#ff7b72; --ok:#5fd38d; --warn:#f0b44c; --chip:#232834; } }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; background:var(--bg); color:var(--text); }
a { color:var(--accent); }
header.top { display:flex; gap:1rem; align-items:center; padding:.6rem 1.2rem; border-bottom:1px solid var(--line); background:var(--panel); flex-wrap:wrap; }
header.top .brand { font-weight:700; text-decoration:none; color:var(--text); margin-right:.5rem; }
header.top nav a { margin-right:.9rem; text-decoration:none; color:var(--muted); }
header.top nav a[aria-current="page"] { color:var(--text); font-weight:600; }
header.top .who { margin-left:auto; color:var(--muted); display:flex; gap:.6rem; align-items:center; }
main { padding:1.2rem; max-width:1400px; margin:0 auto; }
main.narrow { max-width:34rem; margin-top:3rem; }
h1 { font-size:1.35rem; margin:.2rem 0 1rem; }
h2 { font-size:1.05rem; margin:1.2rem 0 .5rem; }
.panel { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:1rem; margin-bottom:1rem; }
label { display:block; font-size:.85rem; color:var(--muted); margin:.4rem 0 .15rem; }
input, select, textarea { font:inherit; color:inherit; background:var(--bg); border:1px solid var(--line); border-radius:6px; padding:.4rem .55rem; max-width:100%; }
textarea { width:100%; min-height:4rem; }
button, .button { font:inherit; font-weight:600; border:1px solid var(--accent); background:var(--accent); color:var(--accent-text); border-radius:6px; padding:.35rem .8rem; cursor:pointer; text-decoration:none; display:inline-block; }
button.quiet { background:transparent; color:var(--accent); }
button.danger { background:transparent; color:var(--danger); border-color:var(--danger); }
:focus-visible { outline:3px solid var(--accent); outline-offset:2px; }
.row { display:flex; gap:.6rem; align-items:end; flex-wrap:wrap; }
.muted { color:var(--muted); }
.small { font-size:.85rem; }
.error { border-color:var(--danger); color:var(--danger); }
.notice { border-color:var(--ok); }
.secret { font-family:ui-monospace,monospace; font-size:1rem; padding:.5rem; background:var(--chip); border-radius:6px; overflow-wrap:anywhere; user-select:all; }
code, pre { font-family:ui-monospace,monospace; font-size:.85rem; }
pre { background:var(--chip); padding:.6rem; border-radius:6px; overflow:auto; white-space:pre-wrap; }
.board { display:grid; grid-template-columns:repeat(4,minmax(15rem,1fr)); gap:.8rem; align-items:start; }
@media (max-width: 900px) { .board { grid-template-columns:1fr; } }
.column { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:.6rem; }
.column h2 { margin:.1rem 0 .6rem; display:flex; justify-content:space-between; }
.card { border:1px solid var(--line); border-radius:6px; padding:.5rem .6rem; margin-bottom:.5rem; background:var(--bg); }
.card[aria-selected="true"] { outline:2px solid var(--accent); }
.card a.title { color:var(--text); text-decoration:none; font-weight:600; display:block; }
.card .meta { font-size:.8rem; color:var(--muted); margin-top:.2rem; }
.card form { display:inline; }
.card .actions { margin-top:.35rem; display:flex; gap:.3rem; flex-wrap:wrap; }
.card .actions button { font-size:.78rem; padding:.15rem .5rem; }
.chip { display:inline-block; background:var(--chip); border-radius:999px; padding:0 .5rem; font-size:.75rem; margin-right:.25rem; }
.p4 { color:var(--danger); } .p3 { color:var(--warn); }
.empty { color:var(--muted); font-size:.9rem; padding:.4rem; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:.4rem .5rem; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:.8rem; color:var(--muted); font-weight:600; }
dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:.25rem 1rem; margin:0; }
dl.facts dt { color:var(--muted); } dl.facts dd { margin:0; overflow-wrap:anywhere; }
.grid2 { display:grid; grid-template-columns:2fr 1fr; gap:1rem; } @media (max-width: 900px) { .grid2 { grid-template-columns:1fr; } }
kbd { font-family:ui-monospace,monospace; border:1px solid var(--line); border-bottom-width:2px; border-radius:4px; padding:0 .3rem; font-size:.8rem; }
.grow { flex:1 1 18rem; } .wide { width:100%; } .pre { white-space:pre-wrap; } .push { margin-left:auto; }
label.check { display:inline-block; margin-right:.8rem; color:inherit; } fieldset.bare { border:0; padding:0; margin:.5rem 0; }
.depth1 { margin-left:1rem; } .depth2 { margin-left:2rem; } .depth3 { margin-left:3rem; } .depth4 { margin-left:4rem; } .depth5 { margin-left:5rem; } .depth6 { margin-left:6rem; }
details.quick-edit { flex-basis:100%; order:2; } details.quick-edit summary { cursor:pointer; font-size:.78rem; color:var(--accent); }
details.quick-edit form { display:block; margin-top:.3rem; } details.quick-edit button { margin-top:.4rem; }
.visually-hidden { position:absolute; width:1px; height:1px; overflow:hidden; clip:rect(0 0 0 0); }
.card[draggable="true"] { cursor:grab; } .card.dragging { opacity:.5; }
.column.drop-ok { outline:2px dashed var(--accent); outline-offset:-4px; }
ol.timeline { margin:0; padding-left:1.2rem; } ol.timeline li { margin:.2rem 0; }
ul.plain { list-style:none; padding:0; margin:0 0 .5rem; } ul.plain li { padding:.15rem 0; }
.done-text { text-decoration:line-through; color:var(--muted); }
button.check-box { font-size:1.1rem; padding:0 .3rem; border-color:transparent; }
`;

export const CLIENT_SCRIPT = `
(() => {
  'use strict';
  // Confirm destructive actions (forms carry data-confirm).
  document.addEventListener('submit', (e) => {
    const form = e.target;
    const msg = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
    if (msg && !window.confirm(msg)) e.preventDefault();
  });
  const board = document.getElementById('board');
  if (!board) return;
  const cards = () => Array.from(board.querySelectorAll('.card'));
  let selected = -1;
  const select = (i) => {
    const all = cards();
    if (!all.length) return;
    selected = Math.max(0, Math.min(all.length - 1, i));
    all.forEach((c, j) => c.setAttribute('aria-selected', j === selected ? 'true' : 'false'));
    all[selected].scrollIntoView({ block: 'nearest' });
  };
  const typing = (t) => t instanceof HTMLElement && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  document.addEventListener('keydown', (e) => {
    if (e.metaKey || e.ctrlKey || e.altKey) return;
    if (typing(e.target)) { if (e.key === 'Escape') e.target.blur(); return; }
    const all = cards();
    const current = all[selected];
    switch (e.key) {
      case 'n': document.getElementById('new-task-content')?.focus(); break;
      case '/': document.getElementById('filter-search')?.focus(); break;
      case 'j': select(selected + 1); break;
      case 'k': select(selected - 1); break;
      case 'Enter': if (current) current.querySelector('a.title')?.click(); else return; break;
      case 'c': if (current) current.querySelector('form[data-action="complete"] button')?.click(); else return; break;
      case 'r': refresh(); break;
      case '?': document.getElementById('shortcuts')?.toggleAttribute('hidden'); break;
      default: return;
    }
    e.preventDefault();
  });
  // Live board: re-read this same page every few seconds and swap the columns in,
  // unless the human is typing in one of them.
  let busy = false;
  let dragged = null; // while a card is dragged, the live refresh waits
  async function refresh() {
    if (busy || dragged || document.hidden || board.querySelector('details[open]') || board.contains(document.activeElement) && typing(document.activeElement)) return;
    busy = true;
    try {
      const res = await fetch(location.href, { credentials: 'same-origin' });
      if (!res.ok) return;
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      const fresh = doc.getElementById('board');
      if (fresh) {
        const id = cards()[selected]?.dataset.taskId;
        board.replaceChildren(...fresh.childNodes);
        if (id) select(cards().findIndex((c) => c.dataset.taskId === id));
      }
    } finally { busy = false; }
  }
  setInterval(refresh, Number(board.dataset.refreshMs || 5000));

  // Drag and drop between columns: a card says where it may go (data-moves, from the
  // authorisation table); a drop submits that card's own Complete or Reopen form, and the
  // API's refusal (say, evidence the policy demands) is shown as it is.
  const status = document.getElementById('board-status');
  const say = (text) => { if (status) { status.textContent = text; status.hidden = !text; } };
  const targetOf = (e) => e.target instanceof Element ? e.target.closest('section[data-column]') : null;
  const allows = (col) => Boolean(dragged && col && (dragged.dataset.moves || '').split(' ').includes(col.dataset.column));
  board.addEventListener('dragstart', (e) => {
    const card = e.target instanceof Element ? e.target.closest('.card[data-moves]') : null;
    if (!card) return;
    dragged = card;
    card.classList.add('dragging');
    e.dataTransfer.effectAllowed = 'move';
    e.dataTransfer.setData('text/plain', card.dataset.taskId);
    board.querySelectorAll('section[data-column]').forEach((c) => c.classList.toggle('drop-ok', allows(c)));
  });
  board.addEventListener('dragover', (e) => { if (allows(targetOf(e))) { e.preventDefault(); e.dataTransfer.dropEffect = 'move'; } });
  const endDrag = () => {
    if (dragged) dragged.classList.remove('dragging');
    board.querySelectorAll('.drop-ok').forEach((c) => c.classList.remove('drop-ok'));
    dragged = null;
  };
  board.addEventListener('dragend', endDrag);
  board.addEventListener('drop', async (e) => {
    const col = targetOf(e);
    if (!allows(col)) return;
    e.preventDefault();
    const form = dragged.querySelector(col.dataset.column === 'done' ? 'form[data-action="complete"]' : 'form[data-action="reopen"]');
    endDrag();
    if (!form) return;
    say('');
    const res = await fetch(form.action, { method: 'POST', body: new FormData(form), credentials: 'same-origin' });
    if (!res.ok) {
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      say((doc.querySelector('[role="alert"]')?.textContent || 'That did not work (' + res.status + ').').trim());
    }
    await refresh();
  });
})();
`;
