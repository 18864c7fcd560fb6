#!/usr/bin/env node
// `npm start`: local secrets on first run, local D1 migrations, then `wrangler dev` on
// 127.0.0.1:8787 with the dev mailbox, and a banner saying how to get a key. wrangler dev does
// not fire Cron Triggers, so this calls the scheduled handler once a minute (`--test-scheduled`
// serves it at /__scheduled), as production's `* * * * *` cron does.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const wrangler = join(root, 'node_modules', '.bin', 'wrangler');
const port = process.env.PORT ?? '8787';

if (!existsSync(join(root, '.dev.vars'))) {
  copyFileSync(join(root, '.dev.vars.example'), join(root, '.dev.vars'));
  console.log('Created .dev.vars from .dev.vars.example (local secrets).');
}

const migrate = spawnSync(wrangler, ['d1', 'migrations', 'apply', 'DB', '--local'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, CI: 'true' },
});
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

const base = `http://127.0.0.1:${port}`;
console.log(`
Delega API (development) on ${base}
  Reference:  ${base}/docs
  Get a key:  curl -s -X POST ${base}/v1/agent/signup -H 'Content-Type: application/json' \\
                -d '{"human_email":"you@example.com","agent_name":"my-agent"}'
  Mailbox:    curl -s '${base}/dev/mailbox?to=you@example.com'   (claim link and codes)
`);

// wrangler dev does not fire Cron Triggers by itself: call its scheduled endpoint once a minute,
// so recurrences fall due and the clean-up runs locally as they do when deployed.
const dev = spawn(wrangler, ['dev', '--local', '--ip', '127.0.0.1', '--port', port, '--test-scheduled'], { cwd: root, stdio: 'inherit' });
const cron = setInterval(() => {
  fetch(`${base}/__scheduled?cron=${encodeURIComponent('* * * * *')}`).then(
    (res) => res.ok || console.error(`scheduled run answered ${res.status}`),
    () => undefined, // not up yet, or restarting: the next minute tries again
  );
}, 60_000);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => dev.kill(signal));
dev.on('exit', (code) => {
  clearInterval(cron);
  process.exit(code ?? 0);
});
