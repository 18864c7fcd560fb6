import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests run inside workerd against real D1, the Durable Object and the Queue (miniflare).
export default defineConfig(async () => {
  // wrangler.toml's [assets] directory (wrangler dev and deploy build it themselves).
  execFileSync(process.execPath, [fileURLToPath(new URL('./scripts/build-assets.mjs', import.meta.url).href)], { stdio: 'inherit' });
  const migrations = await readD1Migrations(fileURLToPath(new URL('./migrations', import.meta.url).href));
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: './wrangler.toml' },
        miniflare: {
          bindings: {
            ENVIRONMENT: 'test',
            KEY_PEPPER: 'test-pepper-0123456789abcdef0123456789abcdef',
            // Suites make many requests per key; the rate-limit test checks the limit itself.
            LIMIT_RATE_PER_MINUTE: '1000',
            // Many suites send bad keys from the same (absent) client address.
            LIMIT_AUTH_FAILURES_PER_MINUTE: '1000',
            STRIPE_WEBHOOK_SECRET: 'whsec_test_stripe',
            PUBLIC_BASE_URL: 'http://127.0.0.1:8787',
            TEST_MIGRATIONS: migrations,
          },
        },
      }),
    ],
    test: {
      include: ['test/**/*.test.ts'],
      exclude: ['test/e2e/**', 'test/compat/**', 'test/structure/**', 'node_modules/**'],
      setupFiles: ['./test/helpers/apply-migrations.ts'],
    },
  };
});
