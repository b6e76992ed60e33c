/**
 * `aigc bench generate`: GPT-2 124M (random weights, no download) through the KV-cache
 * inference path, measured as /work/shared/anchors/gpt2_infer_bench.py measures PyTorch:
 * - prefill 16 / prefill 512: one prompt of that length into a fresh cache (best of reps);
 * - decode b1 fp32 / bf16 / int8, decode b8 fp32: a 16-token prompt, then 128 greedy steps
 *   (argmax of the last logits fed back), best of 2 runs after a warm-up; tokens_per_s is per
 *   sequence for b1 and aggregate (batch × steps/s) for b8.
 * - decode 4 streams fp32: four concurrent greedy generations (16-token prompts, 128 new tokens
 *   each), each with its own KV cache, their steps batched by a DecodeBatcher as the server
 *   does; tokens_per_s is the aggregate, prefills included (compare decode b1 fp32: one stream
 *   alone, decode steps only).
 * Each case runs in its own process (as each anchor run does), so peak_rss_mib is that case's
 * peak: bf16/int8 models are built inference-only, converting layer by layer.
 *
 * Decode cases also report the memory roofline, measured in the same process right after each
 * timed run: `weight_mb`, the bytes of weights a step streams (every matrix once, in the
 * layout decode reads), `read_ms`, the best time of a read-only pass over exactly those bytes
 * (Backend.streamSum, all threads), `roofline_tokens_per_s` = batch / read_ms, and
 * `of_roofline` = tokens_per_s / roofline_tokens_per_s: how close decode runs to the speed at
 * which this machine can merely read its weights.
 */
import { spawnSync } from 'node:child_process';
import { Rng } from '../engine/rng.js';
import { DecodeBatcher } from '../text/generation/batcher.js';
import { generateTokens } from '../text/generation/generate.js';
import { resolveGenerationOptions } from '../text/generation/options.js';
import { GPT2, GPT2_SMALL, type WeightDtype } from '../text/gpt2.js';
import type { BenchOptions } from './index.js';
import { peakRssMiB, type BenchRecord } from './record.js';

const CASES = ['prefill 16', 'prefill 512', 'decode b1 fp32', 'decode b1 bf16', 'decode b1 int8', 'decode b8 fp32', 'decode 4 streams fp32'] as const;
type CaseName = (typeof CASES)[number];
/** Set in a child process: run just this case. */
const CASE_ENV = 'AIGC_BENCH_GENERATE_CASE';

function argmaxRows(logits: Float32Array, rows: number, V: number, out: Int32Array): void {
  for (let r = 0; r < rows; r++) {
    let best = 0, m = -Infinity;
    const o = r * V;
    for (let j = 0; j < V; j++) if (logits[o + j] > m) { m = logits[o + j]; best = j; }
    out[r] = best;
  }
}

function randomIds(rng: Rng, n: number, V: number): Int32Array {
  return Int32Array.from({ length: n }, () => rng.int(V));
}

async function runCase(name: CaseName, opts: BenchOptions): Promise<BenchRecord> {
  const be = opts.backend;
  const cfg = GPT2_SMALL, V = cfg.vocabSize;
  const rng = new Rng(1);
  const rec = (ms: number, tokensPerS: number): BenchRecord => ({
    bench: 'generate', case: name, ms: Math.round(ms * 1000) / 1000, threads: be.threads, backend: be.name,
    tokens_per_s: Math.round(tokensPerS * 10) / 10, peak_rss_mib: peakRssMiB(),
  });
  if (name.startsWith('prefill')) {
    const T = Number(name.split(' ')[1]);
    const model = new GPT2(cfg, { seed: 0, inferenceOnly: true });
    const reps = opts.quick ? 2 : T <= 16 ? 20 : 5;
    const cache = model.newCache(1, T);
    model.forwardCached(cache, randomIds(rng, T, V), T); // warm-up
    let best = Infinity;
    for (let i = 0; i < reps; i++) {
      cache.reset();
      const ids = randomIds(rng, T, V);
      const t = performance.now();
      model.forwardCached(cache, ids, T);
      best = Math.min(best, performance.now() - t);
    }
    return rec(best, (T / best) * 1000);
  }
  if (name.includes('streams')) {
    const streams = Number(name.split(' ')[1]);
    const model = new GPT2(cfg, { seed: 0, dtype: 'fp32', inferenceOnly: true });
    const batcher = new DecodeBatcher(model);
    const gen = resolveGenerationOptions({ doSample: false, maxNewTokens: opts.quick ? 16 : 128, eosTokenId: null });
    let best = 0;
    for (let run = 0; run < (opts.quick ? 2 : 3); run++) { // run 0 is the warm-up
      const prompts = Array.from({ length: streams }, () => Array.from(randomIds(rng, 16, V)));
      const t = performance.now();
      const runs = await Promise.all(prompts.map((p) => generateTokens(model, [p], gen, undefined, batcher)));
      const tokens = runs.reduce((n, r) => n + r.outputs[0][0].tokens.length, 0);
      if (run > 0) best = Math.max(best, (tokens / (performance.now() - t)) * 1000);
    }
    return rec(1000 * streams / best, best);
  }
  const [, b, dtype] = name.split(' ');
  const B = Number(b.slice(1));
  const model = new GPT2(cfg, { seed: 0, dtype: dtype as WeightDtype, inferenceOnly: true });
  const TP = 16, NEW = opts.quick ? 16 : 128;
  const cache = model.newCache(B, TP + NEW);
  const next = new Int32Array(B);
  const weights = model.streamedWeights();
  let best = Infinity, read = Infinity;
  for (let run = 0; run < (opts.quick ? 2 : 3); run++) { // run 0 is the warm-up
    cache.reset();
    let logits = model.forwardCached(cache, randomIds(rng, B * TP, V), TP);
    argmaxRows(logits, B, V, next);
    const t = performance.now();
    for (let i = 0; i < NEW - 1; i++) {
      logits = model.forwardCached(cache, next, 1);
      argmaxRows(logits, B, V, next);
    }
    if (run > 0) best = Math.min(best, (performance.now() - t) / (NEW - 1));
    if (run > 0) read = Math.min(read, readPassMs(be, weights, opts.quick ? 2 : 8));
  }
  const roofline = (B / read) * 1000, tokensPerS = (B / best) * 1000;
  const weightBytes = weights.reduce((n, w) => n + w.byteLength, 0);
  return {
    ...rec(best, tokensPerS),
    weight_mb: Math.round(weightBytes / 1e5) / 10,
    read_ms: Math.round(read * 1000) / 1000,
    roofline_tokens_per_s: Math.round(roofline * 10) / 10,
    of_roofline: Math.round((tokensPerS / roofline) * 1000) / 1000,
  };
}

/** Best time (ms) of `reps` read-only passes over the weights, each matrix read once in order. */
function readPassMs(be: BenchOptions['backend'], weights: ArrayBufferView[], reps: number): number {
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    for (const w of weights) be.streamSum(w);
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

/** Runs one case in a child process with the same command line; undefined when that is not possible. */
function runCaseInChild(name: CaseName, opts: BenchOptions): BenchRecord | undefined {
  const argv = process.argv.slice(1);
  const at = argv.indexOf('bench');
  if (at < 0 || argv[at + 1] !== 'generate') return undefined; // not started as `aigc bench generate` (e.g. a test)
  const args = [...process.execArgv, ...argv];
  if (!args.includes('--json')) args.push('--json');
  const r = spawnSync(process.execPath, args, {
    encoding: 'utf8', env: { ...process.env, [CASE_ENV]: name, AIGC_BACKEND: opts.backend.name }, maxBuffer: 1 << 24,
  });
  const line = r.stdout?.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (r.status !== 0 || !line) throw new Error(`bench generate: case "${name}" failed in its process (status ${r.status}): ${r.stderr}`);
  return JSON.parse(line) as BenchRecord;
}

export async function* benchGenerate(opts: BenchOptions): AsyncGenerator<BenchRecord> {
  const only = process.env[CASE_ENV];
  if (only) {
    if (!(CASES as readonly string[]).includes(only)) throw new Error(`${CASE_ENV}: unknown case "${only}"`);
    yield await runCase(only as CaseName, opts);
    return;
  }
  for (const c of CASES) yield runCaseInChild(c, opts) ?? await runCase(c, opts);
}
