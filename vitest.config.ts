import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    // Integration tests start real brokers and TLS peers: give them room, and run files in forks so a
    // worker thread or child process left behind by one file cannot leak into another.
    // 60 s: CLI tests start `node --import tsx` several times per test, which alone takes seconds on a busy 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
