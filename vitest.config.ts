import { defineConfig } from 'vitest/config';

// Unit tests need nothing but Node; integration tests talk to the real services that
// infra/ starts (see test/services.ts) and run one file at a time to keep the 2-core box sane.
// The unit tests run first, on their own, so that no integration file runs beside them: some of those
// measure rates (the burst fault test), and their first file used to start while unit tests still ran.
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
