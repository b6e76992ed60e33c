import { expect, test } from 'vitest';
import { benchTokenizer } from '../../src/bench/tokenizer.js';
import type { BenchRecord } from '../../src/bench/record.js';

test('bench tokenizer yields aigc and js-tiktoken records (quick)', async () => {
  const recs: BenchRecord[] = [];
  for await (const r of benchTokenizer({ quick: true, bytes: 100_000 })) recs.push(r);
  expect(recs.map((r) => r.case)).toEqual(['aigc encode', 'aigc encode (warm cache)', 'js-tiktoken encode']);
  for (const r of recs) {
    expect(r.bench).toBe('tokenizer');
    expect(r.backend).toBe('ts');
    expect(r.threads).toBe(1);
    expect(r.ms).toBeGreaterThan(0);
    expect(r.tokens_per_s).toBeGreaterThan(0);
    expect(r.mb_per_s).toBeGreaterThan(0);
  }
});
