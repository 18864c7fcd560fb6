#!/usr/bin/env node
// The Worker's static assets (build/assets, served by Workers static assets): the API
// reference's browser bundle from the pinned npm package and the script that starts it.
// wrangler runs this before `wrangler dev` and `wrangler deploy` ([build] in wrangler.toml);
// the unit tests run it from vitest.config.ts.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'build', 'assets', 'docs', 'assets');
// The package's exports do not list its browser bundle, so it is read from the installed files.
const scalarDir = join(root, 'node_modules', '@scalar', 'api-reference');

mkdirSync(out, { recursive: true });
copyFileSync(join(scalarDir, 'dist', 'browser', 'standalone.js'), join(out, 'scalar-api-reference.js'));
copyFileSync(join(root, 'src', 'docs', 'init.js'), join(out, 'init.js'));
