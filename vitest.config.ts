import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Kernels use both cores; run test files one after another so timings and
    // thread pools do not fight each other.
    fileParallelism: false,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
