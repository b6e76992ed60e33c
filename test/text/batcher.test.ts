/** DecodeBatcher: steps of one event-loop turn share a forward; a bad step fails alone. */
import { expect, test, vi } from 'vitest';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DecodeBatcher } from '../../src/text/generation/batcher.js';
import { loadGpt2Checkpoint } from '../../src/text/checkpoint.js';
import { GPT2 } from '../../src/text/gpt2.js';

const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/gpt2-tiny');

test('one forward per turn; a full cache rejects its own step while the others get their logits', async () => {
  const m = GPT2.fromCheckpoint(loadGpt2Checkpoint(FIXTURE), { inferenceOnly: true });
  const spy = vi.spyOn(m, 'forwardDecodeMany');
  const batcher = new DecodeBatcher(m);
  const prefilled = (ids: number[], capacity: number) => { const c = m.newCache(1, capacity); m.forwardCached(c, ids, ids.length); return c; };
  const a = prefilled([1, 2, 3], 16), b = prefilled([4, 5], 16), full = prefilled([6, 7], 2);
  const twinA = prefilled([1, 2, 3], 16), twinB = prefilled([4, 5], 16);

  const [la, lb] = await Promise.all([batcher.step(a, [9]), batcher.step(b, [10])]);
  expect(spy).toHaveBeenCalledTimes(1); // both in one forward
  expect(Array.from(la)).toEqual(Array.from(m.forwardCached(twinA, [9], 1)));
  expect(Array.from(lb)).toEqual(Array.from(m.forwardCached(twinB, [10], 1)));

  const results = await Promise.allSettled([batcher.step(a, [11]), batcher.step(full, [12]), batcher.step(b, [13])]);
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/exceed the KV cache capacity of 2/);
  expect(Array.from((results[0] as PromiseFulfilledResult<Float32Array>).value)).toEqual(Array.from(m.forwardCached(twinA, [11], 1)));
  expect(Array.from((results[2] as PromiseFulfilledResult<Float32Array>).value)).toEqual(Array.from(m.forwardCached(twinB, [13], 1)));
  expect([a.length, b.length, full.length]).toEqual([5, 4, 2]);
});
