import { describe, expect, it } from 'vitest';
import { benchSuites } from '../../src/bench/index.js';
import { backend } from '../../src/engine/backend/index.js';

describe.runIf(backend().name === 'native')('aigc bench gan', () => {
  it('times a seed64 training step and reports it as a JSON-able record', async () => {
    const run = await benchSuites.gan.load();
    const records = [];
    for await (const r of run({ backend: backend(), quick: true })) {
      records.push(r);
      break; // batch 16 only: batch 64 takes seconds per step
    }
    expect(records[0]).toMatchObject({ bench: 'gan', case: 'seed64 b16', backend: 'native' });
    expect(records[0].ms).toBeGreaterThan(0);
    expect(JSON.parse(JSON.stringify(records[0]))).toEqual(records[0]);
  });
});
