import { defineConfig } from 'vitest/config';

// End-to-end tests: Node drives a real `wrangler dev` over HTTP, as a client would.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts', 'test/compat/**/*.test.ts', 'test/structure/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // One wrangler dev per file; files in sequence keep a 2-core machine responsive.
    fileParallelism: false,
  },
});
