/**
 * Generation: each logits processor on hand-made logits (expected values worked out by hand
 * from Hugging Face's definitions), sampling, stop strings, beam search on a hand-built Markov
 * model, and the generation loop on the tiny GPT-2 fixture.
 */
import { describe, expect, it, test } from 'vitest';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/engine/rng.js';
import { ConfigError } from '../../src/errors.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import {
  applyMinP, applyNoRepeatNgram, applyRepetitionPenalty, applyTemperature, applyTopK, applyTopP, applyTypicalP,
  bannedNgramTokens, generateTokens, resolveGenerationOptions, sampleFromLogits, StopStringMatcher,
  type CausalLM, type GenerationOptions, type LMCache,
} from '../../src/text/generation/index.js';
import { GPT2 } from '../../src/text/gpt2.js';

const NEG = -Infinity;
const f = (xs: number[]) => Float32Array.from(xs);
const logs = (ps: number[]) => f(ps.map(Math.log));
const kept = (a: Float32Array) => [...a.keys()].filter((i) => a[i] !== NEG);

describe('logits processors (Hugging Face semantics)', () => {
  test('repetition penalty divides positive and multiplies negative logits of seen tokens, once each', () => {
    const l = f([2, -2, 1, 4]);
    applyRepetitionPenalty(l, [0, 1, 1, 0], 2);
    expect([...l]).toEqual([1, -4, 1, 4]);
  });

  test('no-repeat n-gram bans the tokens that would complete a seen n-gram', () => {
    expect(bannedNgramTokens([1, 2, 3, 1, 2], 3)).toEqual([3]);
    expect(bannedNgramTokens([1, 2, 3, 1, 2, 4, 1, 2], 3).sort()).toEqual([3, 4]);
    expect(bannedNgramTokens([5, 5], 3)).toEqual([]); // prefix [5, 5] never seen before
    expect(bannedNgramTokens([7, 8], 4)).toEqual([]); // too short
    expect(bannedNgramTokens([7, 8, 7], 1).sort()).toEqual([7, 8]);
    const l = f([0, 0, 0, 0]);
    applyNoRepeatNgram(l, [1, 2, 3, 1, 2], 3);
    expect(kept(l)).toEqual([0, 1, 2]);
  });

  test('temperature scales', () => {
    const l = f([1, -2, 4]);
    applyTemperature(l, 0.5);
    expect([...l]).toEqual([2, -4, 8]);
  });

  test('top-k keeps the k largest and ties at the k-th value', () => {
    const a = f([1, 3, 2, 3, 0]);
    applyTopK(a, 2);
    expect(kept(a)).toEqual([1, 3]);
    const b = f([1, 3, 2, 3, 0]);
    applyTopK(b, 3);
    expect(kept(b)).toEqual([1, 2, 3]);
    const c = f([1, 3, 2]);
    applyTopK(c, 10);
    expect(kept(c)).toEqual([0, 1, 2]);
  });

  test('top-p removes the least likely tokens whose cumulative mass is <= 1 - p', () => {
    const a = logs([0.5, 0.3, 0.15, 0.05]);
    applyTopP(a, 0.75); // ascending cumsum 0.05, 0.2 (<= 0.25: removed), 0.5, 1
    expect(kept(a)).toEqual([0, 1]);
    const b = logs([0.5, 0.3, 0.15, 0.05]);
    applyTopP(b, 0.01); // only the most likely survives (min_tokens_to_keep = 1)
    expect(kept(b)).toEqual([0]);
  });

  test('min-p removes tokens below min_p x the top probability', () => {
    const a = logs([0.5, 0.3, 0.15, 0.05]);
    applyMinP(a, 0.2); // threshold 0.1
    expect(kept(a)).toEqual([0, 1, 2]);
    const b = logs([0.5, 0.3, 0.15, 0.05]);
    applyMinP(b, 1);
    expect(kept(b)).toEqual([0]);
  });

  test('typical-p keeps the tokens closest to the entropy, not the most likely', () => {
    // p = [.4 .3 .2 .1], H = 1.2799; |-ln p - H| = [.364 .076 .329 1.023]; order 1, 2, 0, 3 with
    // cumulative mass .3 .5 .9 1.
    const a = logs([0.4, 0.3, 0.2, 0.1]);
    applyTypicalP(a, 0.4); // one entry below .4 -> cut at the second (index 2)
    expect(kept(a)).toEqual([1, 2]);
    const b = logs([0.4, 0.3, 0.2, 0.1]);
    applyTypicalP(b, 0.6);
    expect(kept(b)).toEqual([0, 1, 2]);
  });

  test('sampling is reproducible from a seed and follows the probabilities', () => {
    const l = logs([0.6, 0.3, 0.1, 0]);
    const draw = (seed: number) => { const r = new Rng(seed); return Array.from({ length: 2000 }, () => sampleFromLogits(l, r)); };
    const a = draw(1);
    expect(draw(1)).toEqual(a);
    expect(draw(2)).not.toEqual(a);
    const freq = [0, 1, 2, 3].map((t) => a.filter((x) => x === t).length / a.length);
    expect(freq[0]).toBeCloseTo(0.6, 1);
    expect(freq[1]).toBeCloseTo(0.3, 1);
    expect(freq[2]).toBeCloseTo(0.1, 1);
    expect(freq[3]).toBe(0);
  });

  test('options are validated with the option name', () => {
    const bad: [GenerationOptions, RegExp][] = [
      [{ temperature: 0 }, /temperature/], [{ topP: 1.5 }, /topP/], [{ topK: -1 }, /topK/], [{ maxNewTokens: 0 }, /maxNewTokens/],
      [{ numBeams: 2, numReturnSequences: 3 }, /numReturnSequences/], [{ minP: 2 }, /minP/], [{ repetitionPenalty: 0 }, /repetitionPenalty/],
    ];
    for (const [o, re] of bad) expect(() => resolveGenerationOptions(o)).toThrow(re);
    expect(() => resolveGenerationOptions({ temperature: -1 })).toThrow(ConfigError);
    const r = resolveGenerationOptions({}, { max_new_tokens: 7, do_sample: false, eos_token_id: [3, 4] });
    expect([r.maxNewTokens, r.doSample, r.eosTokenIds, r.topK, r.temperature]).toEqual([7, false, [3, 4], 50, 1]);
  });
});

describe('stop strings', () => {
  test('streamed text never shows a stop string or its start', () => {
    const m = new StopStringMatcher(['\nUser:']);
    expect(m.push('Hel')).toEqual({ text: 'Hel', stopped: false });
    expect(m.push('lo\nUs')).toEqual({ text: 'lo', stopped: false });
    expect(m.push('er: x')).toEqual({ text: '', stopped: true });
    const n = new StopStringMatcher(['\nUser:']);
    n.push('a\nU');
    expect(n.push('x')).toEqual({ text: '\nUx', stopped: false });
    expect(n.push('\n')).toEqual({ text: '', stopped: false });
    expect(n.flush()).toBe('\n');
  });
});

/**
 * A Markov "model" over tokens 0..3 (3 = EOS): the next-token distribution depends on the last
 * token only. From 0: {1: .5, 2: .4, EOS: .1}; from 1: {1: .35, 2: .35, EOS: .3}; from 2:
 * {1: .05, 2: .05, EOS: .9}.
 */
function markovModel(): CausalLM {
  const table: Record<number, number[]> = { 0: [0, 0.5, 0.4, 0.1], 1: [0, 0.35, 0.35, 0.3], 2: [0, 0.05, 0.05, 0.9], 3: [0.25, 0.25, 0.25, 0.25] };
  class Cache implements LMCache {
    length = 0;
    last: number[];
    constructor(readonly batch: number, readonly capacity: number) { this.last = new Array(batch).fill(0); }
    reorder(src: ArrayLike<number>) { this.last = Array.from(src, (s) => this.last[s]); }
  }
  return {
    config: { vocabSize: 4, nPositions: 32 },
    newCache: (b, cap) => new Cache(b, cap ?? 32),
    forwardCached(cache, ids, T) {
      const c = cache as Cache;
      const out = new Float32Array(c.batch * 4);
      for (let r = 0; r < c.batch; r++) {
        c.last[r] = ids[r * T + T - 1];
        table[c.last[r]].forEach((p, t) => { out[r * 4 + t] = Math.log(p); });
      }
      c.length += T;
      return out;
    },
  };
}

describe('beam search', () => {
  const run = (o: GenerationOptions) => generateTokens(markovModel(), [[0]], resolveGenerationOptions({ numBeams: 2, eosTokenId: 3, maxNewTokens: 10, ...o }));

  test('finds the sequence greedy misses, scores normalised by generated length', async () => {
    // Step 1: beams [1] (ln .5) and [2] (ln .4). Step 2: [2, EOS] finishes with ln(.4·.9) = -1.021,
    // score -1.021/2; beams [1,1], [1,2]. Step 3: [1, 2, EOS] finishes, ln(.5·.35·.9)/3 = -0.616;
    // two hypotheses and earlyStopping: done.
    const res = await run({ numReturnSequences: 2, earlyStopping: true });
    const [a, b] = res.outputs[0];
    expect(a.tokens).toEqual([2, 3]);
    expect(a.score).toBeCloseTo(Math.log(0.4 * 0.9) / 2, 5);
    expect(a.finishReason).toBe('eos');
    expect(b.tokens).toEqual([1, 2, 3]);
    expect(b.score).toBeCloseTo(Math.log(0.5 * 0.35 * 0.9) / 3, 5);
    const greedy = await generateTokens(markovModel(), [[0]], resolveGenerationOptions({ doSample: false, eosTokenId: 3, maxNewTokens: 3 }));
    expect(greedy.outputs[0][0].tokens[0]).toBe(1);
  });

  test('length penalty reorders the hypotheses', async () => {
    const res = await run({ numReturnSequences: 2, earlyStopping: true, lengthPenalty: 2 });
    // -1.021/4 = -0.255 < -1.848/9 = -0.205: the longer one wins now.
    expect(res.outputs[0].map((o) => o.tokens)).toEqual([[1, 2, 3], [2, 3]]);
  });

  test('without EOS, beams run to maxNewTokens and finish by length', async () => {
    const res = await run({ eosTokenId: null, maxNewTokens: 4 });
    expect(res.outputs[0][0].tokens).toHaveLength(4);
    expect(res.outputs[0][0].finishReason).toBe('length');
  });
});

describe('generation loop on the GPT-2 fixture', () => {
  const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/gpt2-tiny');
  const ref = readSafetensors(path.join(FIXTURE, 'reference.safetensors'));
  const model = GPT2.fromPretrained(FIXTURE);
  const prompt = ref.getInt64AsNumbers('batch').slice(0, 8);
  const opts = (o: GenerationOptions) => resolveGenerationOptions({ eosTokenId: null, ...o });

  test('greedy equals the PyTorch greedy tokens', async () => {
    const res = await generateTokens(model, [prompt], opts({ doSample: false, maxNewTokens: 20 }));
    expect(res.outputs[0][0].tokens).toEqual(ref.getInt64AsNumbers('greedy'));
    expect(res.outputs[0][0].finishReason).toBe('length');
  });

  test('a left-padded batch generates what each prompt generates alone', async () => {
    const prompts = [prompt, prompt.slice(3), [5, 9], prompt.slice(1, 6)];
    const o = opts({ doSample: false, maxNewTokens: 12, noRepeatNgramSize: 3, repetitionPenalty: 1.3 });
    const batch = await generateTokens(model, prompts, o);
    for (const [i, p] of prompts.entries()) {
      const alone = await generateTokens(model, [p], o);
      expect(batch.outputs[i][0].tokens).toEqual(alone.outputs[0][0].tokens);
    }
  });

  test('sampling is reproducible with a seed, and numReturnSequences gives distinct samples', async () => {
    const o = opts({ seed: 42, maxNewTokens: 15, temperature: 1.5, topK: 0, numReturnSequences: 3 });
    const a = await generateTokens(model, [prompt], o);
    const b = await generateTokens(model, [prompt], o);
    expect(b.outputs).toEqual(a.outputs);
    const seqs = a.outputs[0].map((s) => s.tokens.join(','));
    expect(new Set(seqs).size).toBe(3);
    const c = await generateTokens(model, [prompt], opts({ ...o, seed: 43 }));
    expect(c.outputs).not.toEqual(a.outputs);
  });

  test('no-repeat n-gram holds over prompt and output', async () => {
    const res = await generateTokens(model, [prompt], opts({ doSample: false, maxNewTokens: 30, noRepeatNgramSize: 2 }));
    const all = [...prompt, ...res.outputs[0][0].tokens];
    const grams = all.slice(1).map((t, i) => `${all[i]},${t}`);
    expect(new Set(grams).size).toBe(grams.length);
  });

  test('EOS ends a sequence; the listener can stop one; the signal aborts', async () => {
    const first = ref.getInt64AsNumbers('greedy')[0];
    const eos = await generateTokens(model, [prompt], opts({ doSample: false, eosTokenId: first }));
    expect(eos.outputs[0][0]).toEqual({ tokens: [first], finishReason: 'eos' });
    let seen = 0;
    const stopped = await generateTokens(model, [prompt], opts({ doSample: false, maxNewTokens: 10 }), () => ++seen === 3);
    expect(stopped.outputs[0][0].tokens).toHaveLength(3);
    expect(stopped.outputs[0][0].finishReason).toBe('stop');
    const ac = new AbortController();
    let n = 0;
    const aborted = await generateTokens(model, [prompt], opts({ maxNewTokens: 20, seed: 1, signal: ac.signal }), () => { if (++n === 2) ac.abort(); });
    expect(aborted.outputs[0][0].finishReason).toBe('abort');
    expect(aborted.outputs[0][0].tokens).toHaveLength(2);
  });

  test('beam search on the model: the best beam scores at least as well as greedy', async () => {
    const res = await generateTokens(model, [prompt], opts({ numBeams: 4, maxNewTokens: 6, numReturnSequences: 2, lengthPenalty: 0 }));
    const greedy = (await generateTokens(model, [prompt], opts({ doSample: false, maxNewTokens: 6 }))).outputs[0][0].tokens;
    const V = model.config.vocabSize;
    const logProb = (toks: number[]) => {
      const { logits } = model.forward([...prompt, ...toks], 1, prompt.length + toks.length);
      let s = 0;
      toks.forEach((t, i) => {
        const row = logits.data.subarray((prompt.length - 1 + i) * V, (prompt.length + i) * V);
        const m = Math.max(...row);
        s += row[t] - m - Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
      });
      return s;
    };
    const [best, second] = res.outputs[0];
    expect(best.score!).toBeCloseTo(logProb(best.tokens), 3);
    expect(best.score!).toBeGreaterThanOrEqual(second.score!);
    expect(best.score!).toBeGreaterThanOrEqual(logProb(greedy) - 1e-4);
  });

  test('beam search streams each output: the settled prefix during the search, the rest at the end', async () => {
    const o = opts({ numBeams: 2, maxNewTokens: 12, numReturnSequences: 2 });
    const calls = { n: 0 };
    const counting: CausalLM = { config: model.config, newCache: (b, c) => model.newCache(b, c), forwardCached: (c, ids, T, f) => { calls.n++; return model.forwardCached(c as never, ids, T, f); } };
    const got: number[][] = [[], []];
    const at: number[] = []; // model calls made when each of row 0's tokens arrived
    const res = await generateTokens(counting, [prompt], o, (row, tok) => { got[row].push(tok); if (row === 0) at.push(calls.n); });
    const plain = await generateTokens(model, [prompt], o);
    expect(res.outputs).toEqual(plain.outputs); // listening changes nothing
    expect(got).toEqual(res.outputs[0].map((s) => s.tokens));
    expect(at[0]).toBeLessThan(calls.n); // the first token came while the search still ran
  });

  test('a listener stops a beam search output, cut where it stopped', async () => {
    let seen = 0;
    const res = await generateTokens(model, [prompt], opts({ numBeams: 3, maxNewTokens: 12 }), () => ++seen === 2);
    const full = await generateTokens(model, [prompt], opts({ numBeams: 3, maxNewTokens: 12 }));
    expect(res.outputs[0][0].finishReason).toBe('stop');
    expect(res.outputs[0][0].tokens).toEqual(full.outputs[0][0].tokens.slice(0, 2));
  });

  test('beam sampling: seeded, varied, and at a vanishing temperature the beam search itself', async () => {
    const o = opts({ numBeams: 3, doSample: true, maxNewTokens: 8, topK: 0, temperature: 2, numReturnSequences: 3 });
    const a = await generateTokens(model, [prompt], { ...o, seed: 1 });
    expect((await generateTokens(model, [prompt], { ...o, seed: 1 })).outputs).toEqual(a.outputs);
    const seeds = [2, 3, 4, 5].map(async (seed) => (await generateTokens(model, [prompt], { ...o, seed })).outputs[0][0].tokens.join());
    expect(new Set([a.outputs[0][0].tokens.join(), ...(await Promise.all(seeds))]).size).toBeGreaterThan(1);
    const beam = await generateTokens(model, [prompt], opts({ numBeams: 3, maxNewTokens: 8, numReturnSequences: 3 }));
    const cold = await generateTokens(model, [prompt], opts({ numBeams: 3, doSample: true, maxNewTokens: 8, topK: 0, temperature: 1e-4, numReturnSequences: 3, seed: 7 }));
    expect(cold.outputs[0].map((s) => s.tokens)).toEqual(beam.outputs[0].map((s) => s.tokens));
    // top-k 1 leaves fewer candidates than beams: the extra beams stay dead, the output is top-1.
    const narrow = await generateTokens(model, [prompt], opts({ numBeams: 3, doSample: true, topK: 1, maxNewTokens: 5, seed: 1 }));
    const greedy = await generateTokens(model, [prompt], opts({ doSample: false, maxNewTokens: 5 }));
    expect(narrow.outputs[0][0].tokens).toEqual(greedy.outputs[0][0].tokens);
  });

  test('prompts longer than the context fail clearly unless truncated', async () => {
    const long = Array.from({ length: 70 }, (_, i) => i % 50);
    await expect(generateTokens(model, [long], opts({ maxNewTokens: 4 }))).rejects.toThrow(/70 tokens.*context window is 64/);
    const res = await generateTokens(model, [long], opts({ maxNewTokens: 4, truncate: true, doSample: false }));
    expect(res.prompts[0]).toEqual(long.slice(10));
    expect(res.outputs[0][0].tokens).toHaveLength(4);
  });
});

describe('StopStringMatcher over streamed pieces', () => {
  const run = (stops: string[], pieces: string[]) => {
    const f = new StopStringMatcher(stops);
    let out = '';
    let stopped = false;
    for (const p of pieces) {
      const r = f.push(p);
      out += r.text;
      if (r.stopped) { stopped = true; break; }
    }
    if (!stopped) out += f.flush();
    return { out, stopped };
  };

  it('cuts before a stop string split across pieces, never emitting part of it', () => {
    expect(run(['END'], ['abc E', 'N', 'D more'])).toEqual({ out: 'abc ', stopped: true });
  });

  it('releases a held prefix that turns out not to be a stop string', () => {
    expect(run(['END'], ['abc E', 'NX', 'yz'])).toEqual({ out: 'abc ENXyz', stopped: false });
    expect(run(['END'], ['abc EN'])).toEqual({ out: 'abc EN', stopped: false });
    expect(run([], ['a', 'b'])).toEqual({ out: 'ab', stopped: false });
  });

  it('picks the earliest of several stop strings', () => {
    expect(run(['b', 'cd'], ['xxcdb'])).toEqual({ out: 'xx', stopped: true });
  });
});
