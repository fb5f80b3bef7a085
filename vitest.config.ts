import { defineConfig } from 'vitest/config';

// Unit tests need nothing but Node; integration tests talk to the real services that
// infra/ starts (see test/services.ts) and run one file at a time to keep the 2-core box sane.
// The unit tests run first, on their own: run beside them, the integration file that starts first
// (the burst fault test, the longest) measured rates with the unit tests' CPU taken from it, and its
// first attempt offered 4.8-8.9x instead of 10x in fresh-clone CI runs (its retries, after them, 11.7-15.0x;
// alone, a first attempt offered 10.9x).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
