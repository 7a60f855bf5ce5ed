import { defineConfig } from 'vitest/config';

// The fault suite (`npm run test:faults`): long, fault-injected runs kept out of the default
// `npm test`. One file at a time (each loads the 2 cores on its own); counts and rates are
// environment variables (test/faults/params.ts), so a longer soak runs by hand; the summary of
// counts is printed at the end by the global setup's teardown.
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
    testTimeout: 600_000,
    hookTimeout: 120_000,
    globalSetup: ['test/faults/summary.ts'],
  },
});
