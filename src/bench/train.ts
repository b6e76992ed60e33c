/**
 * `aigc bench train`: one GPT training step (forward, backward, gradient clipping at 1.0, AdamW
 * lr 3e-4 / weight decay 0.1), fp32, at the shapes of the PyTorch anchor
 * `shared/anchors/gpt2_train_bench.py`:
 *   - `gpt 4x256 b8x128`: 4 layers, 4 heads, width 256, vocabulary 50257, batch 8 x 128 tokens
 *     (anchor: --layers 4 --heads 4 --embd 256 --block 128 --batch 8);
 *   - `gpt2-124m b4x64`: GPT-2 124M (12 x 768), batch 4 x 64 tokens (the anchor's defaults).
 * Reports the median ms per step after the first (as the anchor), tokens/s and the process's
 * peak RSS so far (the small case runs first, so each figure is that case's peak).
 */
import { Rng } from '../engine/rng.js';
import { GPT2, GPT2_SMALL, type GPT2Config } from '../text/gpt2.js';
import { makeOptimizer, trainStep } from '../text/train/trainer.js';
import type { BenchOptions } from './index.js';
import { peakRssMiB, type BenchRecord } from './record.js';

interface Case {
  name: string;
  config: GPT2Config;
  B: number;
  T: number;
}

export const TRAIN_CASES: Case[] = [
  { name: 'gpt 4x256 b8x128', config: { ...GPT2_SMALL, nLayer: 4, nHead: 4, nEmbd: 256, nInner: 1024, nPositions: 128 }, B: 8, T: 128 },
  { name: 'gpt2-124m b4x64', config: { ...GPT2_SMALL, nPositions: 64 }, B: 4, T: 64 },
];

/** Runs `steps` training steps of a case; returns per-step times (ms) and losses. */
export function runTrainCase(c: Case, steps: number): { ms: number[]; losses: number[] } {
  const model = new GPT2(c.config, { seed: 0 });
  const { opt, params } = makeOptimizer(model, { lr: 3e-4, weightDecay: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
  const rng = new Rng(0);
  const n = c.B * c.T, V = c.config.vocabSize;
  const data = Int32Array.from({ length: c.B * (c.T + 1) }, () => rng.int(V));
  const ids = new Int32Array(n), targets = new Int32Array(n);
  for (let b = 0; b < c.B; b++) {
    ids.set(data.subarray(b * (c.T + 1), b * (c.T + 1) + c.T), b * c.T);
    targets.set(data.subarray(b * (c.T + 1) + 1, (b + 1) * (c.T + 1)), b * c.T);
  }
  const ms: number[] = [], losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    const r = trainStep(model, opt, params, [{ ids, targets }], c.B, c.T, 3e-4, 1.0, 1);
    ms.push(performance.now() - t0);
    losses.push(r.loss);
  }
  return { ms, losses };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export async function* benchTrain(opts: BenchOptions): AsyncGenerator<BenchRecord> {
  const steps = opts.quick ? 3 : 6;
  for (const c of TRAIN_CASES) {
    const { ms } = runTrainCase(c, steps);
    const m = median(ms.slice(1));
    yield {
      bench: 'train',
      case: c.name,
      ms: Number(m.toFixed(1)),
      threads: opts.backend.threads,
      backend: opts.backend.name,
      tokens_per_s: Number(((c.B * c.T) / (m / 1000)).toFixed(1)),
      peak_rss_mib: peakRssMiB(),
    };
    await new Promise<void>((r) => setImmediate(r));
  }
}
