import { defineConfig } from 'vitest/config';

// Unit tests need nothing but Node; integration tests talk to the real services that
// infra/ starts (see test/services.ts) and run one file at a time to keep the 2-core box sane.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
