import { afterEach, expect, test } from 'vitest';
import { benchGenerate } from '../../src/bench/generate.js';
import type { BenchRecord } from '../../src/bench/record.js';
import { backend } from '../../src/engine/backend/index.js';
import { GPT2_SMALL } from '../../src/text/gpt2.js';

afterEach(() => { delete process.env.AIGC_BENCH_GENERATE_CASE; });

test('bench generate: one decode case (quick) with its memory roofline over exactly the streamed weights', async () => {
  process.env.AIGC_BENCH_GENERATE_CASE = 'decode b1 int8';
  const recs: BenchRecord[] = [];
  for await (const r of benchGenerate({ quick: true, backend: backend() })) recs.push(r);
  expect(recs).toHaveLength(1);
  const r = recs[0];
  expect(r.case).toBe('decode b1 int8');
  // int8 row panels: rows rounded up to 8, columns to 64 bytes; one byte a weight.
  const c = GPT2_SMALL, C = c.nEmbd, F = c.nInner;
  const perLayer = 3 * C * C + C * C + F * C + C * F;
  const head = Math.ceil(c.vocabSize / 8) * 8 * C;
  expect(r.weight_mb).toBe(Math.round((c.nLayer * perLayer + head) / 1e5) / 10);
  expect(r.tokens_per_s).toBeGreaterThan(0);
  expect(r.read_ms).toBeGreaterThan(0);
  expect(r.roofline_tokens_per_s).toBeCloseTo(1000 / r.read_ms!, 0);
  expect(r.of_roofline).toBeCloseTo(r.tokens_per_s! / r.roofline_tokens_per_s!, 1);
}, 120_000);

test('bench generate: concurrent streams through the decode batcher (quick)', async () => {
  process.env.AIGC_BENCH_GENERATE_CASE = 'decode 4 streams fp32';
  const recs: BenchRecord[] = [];
  for await (const r of benchGenerate({ quick: true, backend: backend() })) recs.push(r);
  expect(recs.map((r) => r.case)).toEqual(['decode 4 streams fp32']);
  expect(recs[0].tokens_per_s).toBeGreaterThan(0);
  expect(recs[0].ms).toBeCloseTo(4000 / recs[0].tokens_per_s!, 0); // ms per batched step of 4 tokens
}, 120_000);
