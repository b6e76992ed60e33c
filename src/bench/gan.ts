/**
 * `aigc bench gan`: milliseconds per training step of the seed's GAN (`seed64`) at batch 16
 * and 64 — the same step as ../shared/anchors/dcgan_train_bench.py (PyTorch): G forward on
 * fresh noise, D step on a real and a fake batch with BCE, G step with the non-saturating
 * loss, Adam(2e-4, β1 0.5) on both. Reports the median step after one warm-up step.
 */
import { Rng } from '../engine/rng.js';
import { Tensor } from '../engine/tensor.js';
import { Discriminator, Generator } from '../image/gan.js';
import { presetConfig } from '../image/presets.js';
import { ganStep } from '../image/step.js';
import { Adam } from '../nn/optim.js';
import type { BenchOptions } from './index.js';
import { peakRssMiB, type BenchRecord } from './record.js';

export async function* benchGan(opts: BenchOptions): AsyncGenerator<BenchRecord> {
  for (const batch of [16, 64]) {
    const cfg = presetConfig('seed64');
    const rng = new Rng(1);
    const G = new Generator(cfg, rng), D = new Discriminator(cfg, rng);
    const optG = new Adam(G.parameters(), { lr: 2e-4, beta1: 0.5 }), optD = new Adam(D.parameters(), { lr: 2e-4, beta1: 0.5 });
    const real = new Tensor(rng.fillUniform(new Float32Array(batch * 3 * 64 * 64)), [batch, 3, 64, 64]);
    const state = { G, D, optG, optD, rng };
    const steps = opts.quick ? 3 : batch === 16 ? 8 : 6;
    const times: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t = performance.now();
      ganStep(state, real, null);
      times.push(performance.now() - t);
    }
    const rest = times.slice(1).sort((a, b) => a - b);
    yield {
      bench: 'gan', case: `seed64 b${batch}`, ms: Math.round(rest[Math.floor(rest.length / 2)] * 10) / 10,
      threads: opts.backend.threads, backend: opts.backend.name, peak_rss_mib: peakRssMiB(),
    };
  }
}
