/**
 * GPT-2 against the pure-PyTorch mirror of Hugging Face's GPT2LMHeadModel
 * (scripts/fixtures/gpt2.py → test/fixtures/gpt2-tiny): training forward, KV-cache path,
 * left padding, greedy continuation, bf16/int8 weights, and the checkpoint loader's checks.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../../src/io/safetensors.js';
import { Rng } from '../../src/engine/rng.js';
import { GPT2 } from '../../src/text/gpt2.js';
import { backend, setBackend } from '../../src/engine/backend/index.js';
import { loadNativeBackend } from '../../src/engine/backend/native.js';
import { loadGpt2Checkpoint } from '../../src/text/checkpoint.js';
import { CheckpointError, ConfigError } from '../../src/errors.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURE = path.resolve(HERE, '../fixtures/gpt2-tiny');
const ref = readSafetensors(path.join(FIXTURE, 'reference.safetensors'));
const ints = (name: string) => ref.getInt64AsNumbers(name);
const batch = ints('batch'); // (2, 8)
const T = 8;

let model: GPT2;
let V: number;
let tmp: string;

beforeAll(() => {
  model = GPT2.fromPretrained(FIXTURE);
  V = model.config.vocabSize;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aigc-gpt2-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>, rows?: number[], rowLen?: number): number {
  let m = 0;
  const idx = rows ?? [...Array(Math.ceil(a.length / (rowLen ?? a.length))).keys()];
  const len = rowLen ?? a.length;
  for (const r of idx) for (let j = 0; j < len; j++) m = Math.max(m, Math.abs(a[r * len + j] - b[r * len + j]));
  return m;
}

function argmax(a: ArrayLike<number>, off = 0, n = a.length): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (a[off + j] > a[off + best]) best = j;
  return best;
}

describe('GPT-2 forward parity with PyTorch', () => {
  test('training forward logits within 1e-4 of PyTorch, and the loss', () => {
    const want = ref.getFloat32('logits');
    const { logits } = model.forward(batch, 2, T);
    expect(logits.shape).toEqual([2, T, V]);
    expect(maxAbsDiff(logits.data, want)).toBeLessThan(1e-4);
    // loss with next-token targets (last position ignored), as the fixture computes it
    const targets = batch.map((_, i) => (i % T === T - 1 ? -1 : batch[i + 1]));
    const { loss } = model.forward(batch, 2, T, { targets });
    expect(loss!.item()).toBeCloseTo(ref.getFloat32('loss')[0], 4);
  });

  test('the training forward has gradients for every parameter', () => {
    const targets = batch.map((_, i) => (i % T === T - 1 ? -1 : batch[i + 1]));
    model.zeroGrad();
    const { loss } = model.forward(batch, 2, T, { targets });
    loss!.backward();
    const missing = model.namedParameters().filter(([, p]) => p.grad === null).map(([n]) => n);
    expect(missing).toEqual([]);
    model.zeroGrad();
  });

  test('training dropout: embeddings, attention probabilities and both residual branches, in train mode only', () => {
    class CountingRng extends Rng { draws = 0; override random(): number { this.draws++; return super.random(); } }
    const c = model.config, B = 2, C = c.nEmbd;
    const plain = model.forward(batch, B, T).logits.data.slice();
    const rng = new CountingRng(4);
    model.setDropout(0.3, rng);
    try {
      const a = model.forward(batch, B, T).logits.data;
      // one draw per element of each dropout site: the embeddings, then per layer the attention
      // probabilities (B, H, T, T) and the attention and MLP outputs (B, T, C)
      expect(rng.draws).toBe(B * T * C + c.nLayer * (B * c.nHead * T * T + 2 * B * T * C));
      expect(Math.max(...a.map((v, i) => Math.abs(v - plain[i])))).toBeGreaterThan(1e-3);
      const again = new CountingRng(4);
      model.setDropout(0.3, again);
      expect(Array.from(model.forward(batch, B, T).logits.data)).toEqual(Array.from(a)); // the masks follow the seed
      model.eval();
      expect(Array.from(model.forward(batch, B, T).logits.data)).toEqual(Array.from(plain));
      expect(() => model.setDropout(1, rng)).toThrow(/dropout must be in \[0, 1\)/);
    } finally {
      model.setDropout(0);
      model.train();
    }
  });

  test('KV-cache path: prefill in one chunk equals PyTorch; token-by-token equals the full forward', () => {
    const want = ref.getFloat32('logits');
    const cache = model.newCache(2, 16);
    const all = model.forwardCached(cache, batch, T, { allLogits: true });
    expect(maxAbsDiff(all, want)).toBeLessThan(1e-4);
    // one token at a time into a fresh cache
    const cache2 = model.newCache(2, 16);
    for (let t = 0; t < T; t++) {
      const step = model.forwardCached(cache2, [batch[t], batch[T + t]], 1);
      for (let b = 0; b < 2; b++) {
        const got = step.subarray(b * V, (b + 1) * V);
        const exp = want.subarray((b * T + t) * V, (b * T + t + 1) * V);
        expect(maxAbsDiff(got, exp)).toBeLessThan(1e-4);
      }
    }
    // two chunks (5 then 3 tokens), last-position logits only
    const cache3 = model.newCache(2, 16);
    model.forwardCached(cache3, [...batch.slice(0, 5), ...batch.slice(8, 13)], 5);
    const last = model.forwardCached(cache3, [...batch.slice(5, 8), ...batch.slice(13, 16)], 3);
    expect(last.length).toBe(2 * V);
    expect(maxAbsDiff(last.subarray(0, V), want.subarray(7 * V, 8 * V))).toBeLessThan(1e-4);
    expect(maxAbsDiff(last.subarray(V), want.subarray(15 * V, 16 * V))).toBeLessThan(1e-4);
  });

  test('left-padded batch with attention mask matches PyTorch at the real positions', () => {
    const padded = ints('padded');
    const mask = ints('padded_mask');
    const want = ref.getFloat32('logits_padded');
    const realRows = mask.flatMap((m, i) => (m ? [i] : []));
    const cache = model.newCache(2, 16);
    const got = model.forwardCached(cache, padded, T, { attentionMask: mask, allLogits: true });
    expect(maxAbsDiff(got, want, realRows, V)).toBeLessThan(1e-4);
    const { logits } = model.forward(padded, 2, T, { attentionMask: mask });
    expect(maxAbsDiff(logits.data, want, realRows, V)).toBeLessThan(1e-4);
    // and the padded row equals its prompt run alone (positions skip the padding)
    const alone = model.newCache(1, 16);
    const single = model.forwardCached(alone, padded.slice(11, 16), 5, { allLogits: true });
    expect(maxAbsDiff(single, got.subarray((8 + 3) * V, 16 * V))).toBeLessThan(1e-5);
  });

  test('long prompts (several attention blocks), padding and chunked prefill equal the training forward', () => {
    const cfg = { ...model.config, vocabSize: 50, nPositions: 256, nLayer: 2, bosTokenId: null, eosTokenId: null };
    const m = new GPT2(cfg, { seed: 3 });
    const L = 150, B = 2, pad = 20;
    const rng = new Rng(5);
    const ids = Array.from({ length: B * L }, () => rng.int(50));
    const mask = ids.map((_, i) => (i >= L && i < L + pad ? 0 : 1));
    const want = m.forward(ids, B, L, { attentionMask: mask }).logits.data;
    const got = m.forwardCached(m.newCache(B, 200), ids, L, { attentionMask: mask, allLogits: true });
    const real = mask.flatMap((v, i) => (v ? [i] : []));
    expect(maxAbsDiff(got, want, real, 50)).toBeLessThan(1e-4);
    // the same prompts fed as 100 + 37 + 13 tokens
    const cache = m.newCache(B, 200);
    const cut = (a: number[], from: number, to: number) => [...a.slice(from, to), ...a.slice(L + from, L + to)];
    m.forwardCached(cache, cut(ids, 0, 100), 100, { attentionMask: cut(mask, 0, 100) });
    m.forwardCached(cache, cut(ids, 100, 137), 37);
    const last = m.forwardCached(cache, cut(ids, 137, L), 13);
    expect(maxAbsDiff(last.subarray(0, 50), want.subarray((L - 1) * 50, L * 50))).toBeLessThan(1e-4);
    expect(maxAbsDiff(last.subarray(50), want.subarray((2 * L - 1) * 50, 2 * L * 50))).toBeLessThan(1e-4);
    // a padded prefill, then token by token: decode attention hides the padding keys
    const c2 = m.newCache(B, 200);
    m.forwardCached(c2, cut(ids, 0, 140), 140, { attentionMask: cut(mask, 0, 140) });
    for (let t = 140; t < L; t++) {
      const step = m.forwardCached(c2, [ids[t], ids[L + t]], 1);
      expect(maxAbsDiff(step.subarray(0, 50), want.subarray(t * 50, (t + 1) * 50))).toBeLessThan(1e-4);
      expect(maxAbsDiff(step.subarray(50), want.subarray((L + t) * 50, (L + t + 1) * 50))).toBeLessThan(1e-4);
    }
  });

  test('greedy continuation with the KV cache gives PyTorch tokens', () => {
    const want = ints('greedy');
    const cache = model.newCache(1, 64);
    let logits = model.forwardCached(cache, batch.slice(0, T), T);
    const got: number[] = [];
    for (let i = 0; i < want.length; i++) {
      const next = argmax(logits, 0, V);
      got.push(next);
      logits = model.forwardCached(cache, [next], 1);
    }
    expect(got).toEqual(want);
  });

  // Tolerances relative to the largest logit: bf16 keeps 8 bits of mantissa, int8 ~7 bits per row.
  test.each([['bf16', 0.01], ['int8', 0.02]] as const)('%s weights give logits close to fp32', (dtype, rel) => {
    const m = GPT2.fromPretrained(FIXTURE, { dtype });
    const want = ref.getFloat32('logits');
    const scale = want.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    const got = m.forwardCached(m.newCache(2, 16), batch, T, { allLogits: true });
    const err = maxAbsDiff(got, want);
    expect(err).toBeLessThan(rel * scale);
    expect(err).toBeGreaterThan(0); // the weights really were converted
    // the top token agrees at almost every position
    let agree = 0;
    for (let r = 0; r < 2 * T; r++) if (argmax(got, r * V, V) === argmax(want, r * V, V)) agree++;
    expect(agree).toBeGreaterThanOrEqual(2 * T - 1);
  });

  test.each(['bf16', 'int8'] as const)('inference-only %s: converted layer by layer, float32 weights dropped', (dtype) => {
    const m = GPT2.fromPretrained(FIXTURE, { dtype, inferenceOnly: true });
    const want = ref.getFloat32('logits');
    const scale = want.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    const got = m.forwardCached(m.newCache(2, 16), batch, T, { allLogits: true });
    expect(maxAbsDiff(got, want)).toBeLessThan((dtype === 'bf16' ? 0.02 : 0.03) * scale); // the embedding is rounded too
    expect(m.h[0].attn.c_attn.weight.size).toBe(0);
    expect(m.wte.weight.size).toBe(0);
    expect(() => m.forward(batch, 2, T)).toThrow(/inference-only/);
    expect(() => m.setDtype('fp32')).toThrow(/inference-only/);
  });

  test('forwardDecodeMany: one step over several caches gives each exactly its own forwardCached logits', () => {
    const backends: ('ts' | 'native')[] = ['ts'];
    try { loadNativeBackend(); backends.push('native'); } catch { /* TS only */ }
    const before = backend();
    try {
      for (const be of backends) {
        setBackend(be);
        for (const dtype of ['fp32', 'bf16', 'int8', 'trainable fp32'] as const) {
          const m = dtype === 'trainable fp32' ? GPT2.fromPretrained(FIXTURE) : GPT2.fromCheckpoint(loadGpt2Checkpoint(FIXTURE), { dtype, inferenceOnly: true });
          // Three caches at different lengths: one row; two left-padded rows; one row, longer.
          const setups: [number, number[], number[] | null][] = [
            [1, [5, 9, 11], null],
            [2, [0, 0, 7, 3, 14, 2], [0, 0, 1, 1, 1, 1]],
            [1, [1, 2, 3, 4, 5, 6, 7, 8, 9], null],
          ];
          const twins = setups.map(([B, ids, mask]) => [0, 1].map(() => {
            const c = m.newCache(B, 24);
            m.forwardCached(c, ids, ids.length / B, mask ? { attentionMask: mask } : {});
            return c;
          }));
          for (let step = 0; step < 4; step++) {
            const ids = setups.map(([B], i) => Array.from({ length: B }, (_, b) => (17 * step + 5 * i + b) % V));
            const many = m.forwardDecodeMany(twins.map((t, i) => ({ cache: t[0], ids: ids[i] })));
            twins.forEach((t, i) => {
              const alone = m.forwardCached(t[1], ids[i], 1);
              expect(Array.from(many[i]), `${be} ${dtype} cache ${i} step ${step}`).toEqual(Array.from(alone));
              expect(t[0].length).toBe(t[1].length);
            });
          }
          // A bad segment fails the call before any cache moves.
          const lengths = twins.map((t) => t[0].length);
          const full = m.newCache(1, 1);
          m.forwardCached(full, [1], 1);
          expect(() => m.forwardDecodeMany([{ cache: twins[0][0], ids: [1] }, { cache: full, ids: [2] }])).toThrow(/exceed the KV cache capacity of 1/);
          expect(() => m.forwardDecodeMany([{ cache: twins[0][0], ids: [1] }, { cache: twins[0][0], ids: [2] }])).toThrow(/appears twice/);
          expect(() => m.forwardDecodeMany([{ cache: twins[0][0], ids: [1] }, { cache: twins[2][0], ids: [V] }])).toThrow(/outside the vocabulary/);
          expect(twins.map((t) => t[0].length)).toEqual(lengths);
        }
      }
    } finally {
      setBackend(before.name as 'ts' | 'native');
    }
  });

  test('KV cache reorder copies rows (beam search)', () => {
    const cache = model.newCache(2, 16);
    model.forwardCached(cache, batch, T);
    cache.reorder([1, 1]);
    const next = model.forwardCached(cache, [batch[0], batch[0]], 1);
    expect(maxAbsDiff(next.subarray(0, V), next.subarray(V))).toBe(0);
    const fresh = model.newCache(1, 16);
    model.forwardCached(fresh, batch.slice(T), T);
    const want = model.forwardCached(fresh, [batch[0]], 1);
    expect(maxAbsDiff(next.subarray(0, V), want)).toBeLessThan(1e-5);
  });
});

describe('checkpoint loading', () => {
  /** Writes a copy of the fixture with tensors transformed by `edit`. */
  function variant(name: string, edit: (t: Map<string, TensorToWrite>) => void, opts: { shards?: number; config?: (c: Record<string, unknown>) => void } = {}): string {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir, { recursive: true });
    const src = readSafetensors(path.join(FIXTURE, 'model.safetensors'));
    const tensors = new Map<string, TensorToWrite>();
    for (const n of src.names()) tensors.set(n, { dtype: 'F32', shape: src.info(n).shape, data: src.getFloat32(n, { copy: true }) });
    edit(tensors);
    const cfg = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'config.json'), 'utf8'));
    opts.config?.(cfg);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
    if (opts.shards) {
      const names = [...tensors.keys()];
      const weightMap: Record<string, string> = {};
      for (let s = 0; s < opts.shards; s++) {
        const file = `model-0000${s + 1}-of-0000${opts.shards}.safetensors`;
        const part = names.filter((_, i) => i % opts.shards! === s);
        writeSafetensors(path.join(dir, file), Object.fromEntries(part.map((n) => [n, tensors.get(n)!])));
        for (const n of part) weightMap[n] = file;
      }
      fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    } else {
      writeSafetensors(path.join(dir, 'model.safetensors'), Object.fromEntries(tensors));
    }
    return dir;
  }

  function logitsOf(dir: string): Float32Array {
    const m = GPT2.fromPretrained(dir);
    return m.forward(batch, 2, T).logits.data;
  }

  test('sharded, F16, BF16, no prefix and an explicit tied lm_head all load', () => {
    const want = ref.getFloat32('logits');
    expect(maxAbsDiff(logitsOf(variant('sharded', () => {}, { shards: 3 })), want)).toBeLessThan(1e-4);
    const noPrefix = variant('noprefix', (t) => {
      for (const [n, v] of [...t]) { t.delete(n); t.set(n.replace(/^transformer\./, ''), v); }
      t.set('lm_head.weight', t.get('wte.weight')!);
    });
    expect(maxAbsDiff(logitsOf(noPrefix), want)).toBeLessThan(1e-4);
    for (const dt of ['F16', 'BF16'] as const) {
      const dir = variant(dt, (t) => { for (const v of t.values()) v.dtype = dt; });
      const err = maxAbsDiff(logitsOf(dir), want);
      expect(err).toBeGreaterThan(0);
      expect(err).toBeLessThan(dt === 'F16' ? 0.02 : 0.2);
    }
  });

  test('missing and mis-shaped tensors are listed in one error', () => {
    const dir = variant('broken', (t) => {
      t.delete('transformer.h.1.mlp.c_fc.bias');
      const w = t.get('transformer.h.0.attn.c_proj.weight')!;
      t.set('transformer.h.0.attn.c_proj.weight', { ...w, shape: [16, 64], data: w.data });
    });
    let err: unknown;
    try { loadGpt2Checkpoint(dir); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CheckpointError);
    const msg = (err as Error).message;
    expect(msg).toContain('missing h.1.mlp.c_fc.bias [128]');
    expect(msg).toContain('transformer.h.0.attn.c_proj.weight: shape [16, 64], expected [32, 32]');
  });

  test('a config that does not match the weights is reported', () => {
    const dir = variant('wrongcfg', () => {}, { config: (c) => { c.n_layer = 3; } });
    expect(() => loadGpt2Checkpoint(dir)).toThrow(/missing h\.2\.ln_1\.weight/);
    // Fewer layers in the config than in the weights: the extra layer must not be dropped silently.
    const fewer = variant('fewerlayers', () => {}, { config: (c) => { c.n_layer = 1; } });
    expect(() => loadGpt2Checkpoint(fewer)).toThrow(/do not match config\.json \(GPT-2 with n_layer 1.*\n {2}unexpected tensors, not part of this GPT-2: transformer\.h\.1\.attn\.c_attn\.bias, .*… \(12 in all\)$/s);
    const stray = variant('stray', (t) => { t.set('transformer.h.0.foo', t.get('transformer.ln_f.bias')!); });
    expect(() => loadGpt2Checkpoint(stray)).toThrow(/unexpected tensors, not part of this GPT-2: transformer\.h\.0\.foo$/);
    const bad = variant('badcfg', () => {}, { config: (c) => { c.n_head = 5; } });
    expect(() => loadGpt2Checkpoint(bad)).toThrow(ConfigError);
    const act = variant('act', () => {}, { config: (c) => { c.activation_function = 'relu'; } });
    expect(() => loadGpt2Checkpoint(act)).toThrow(/activation_function "relu"/);
  });

  test('pytorch_model.bin only: explains how to get safetensors', () => {
    const dir = path.join(tmp, 'ptonly');
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(path.join(FIXTURE, 'config.json'), path.join(dir, 'config.json'));
    fs.writeFileSync(path.join(dir, 'pytorch_model.bin'), 'not really');
    expect(() => loadGpt2Checkpoint(dir)).toThrow(/only pytorch_model\.bin.*safetensors/s);
  });

  test('generation_config.json supplies defaults', () => {
    const ck = loadGpt2Checkpoint(FIXTURE);
    expect(ck.generation.max_new_tokens).toBe(16);
    expect(ck.generation.eos_token_id).toBe(V - 1);
  });
});
