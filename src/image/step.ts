/**
 * One GAN training step, as in the DCGAN paper and the seed's Keras compile (Adam + binary
 * cross-entropy):
 * 1. discriminator: BCE(D(x), 1 − smoothing) + BCE(D(G(z)), 0) on a real batch and a fake
 *    batch (separate batches, so batch norm sees one kind at a time), plus for a conditional
 *    model the auxiliary class loss on the real batch (AC-GAN);
 * 2. generator: the non-saturating loss BCE(D(G(z)), 1), plus the class loss on its fakes for
 *    the labels it was asked for.
 * The discriminator's weights are frozen during the generator step (no wasted weight
 * gradients); its input gradient still flows back into the generator.
 */
import * as F from '../engine/ops/index.js';
import type { Rng } from '../engine/rng.js';
import { noGrad, Tensor } from '../engine/tensor.js';
import type { Optimizer } from '../nn/optim.js';
import type { Discriminator, Generator } from './gan.js';

export interface GanState {
  G: Generator;
  D: Discriminator;
  optG: Optimizer;
  optD: Optimizer;
  /** Draws latents and fake labels. */
  rng: Rng;
}

export interface StepStats {
  dLoss: number;
  gLoss: number;
  /** Mean D(x) on the real batch. */
  dReal: number;
  /** Mean D(G(z)) on the fake batch of the discriminator step. */
  dFake: number;
  /** Accuracy of the auxiliary classifier on the real batch (conditional models). */
  classAcc?: number;
}

/** A batch of latent vectors (n, latentDim) from N(0, 1), scaled by truncation (< 1 trades variety for fidelity). */
export function sampleLatents(rng: Rng, n: number, latentDim: number): Tensor {
  return new Tensor(rng.fillNormal(new Float32Array(n * latentDim)), [n, latentDim]);
}

function meanOf(t: Tensor): number {
  let s = 0;
  for (const v of t.data) s += v;
  return s / t.size;
}

function setTrainable(params: Tensor[], on: boolean): void {
  for (const p of params) p.requiresGrad = on;
}

export function ganStep(s: GanState, real: Tensor, labels: Int32Array | null, opts: { labelSmoothing?: number } = {}): StepStats {
  const { G, D, optG, optD, rng } = s;
  const n = real.shape[0];
  const classes = G.config.labels?.length ?? 0;
  const realTarget = new Float32Array(n).fill(1 - (opts.labelSmoothing ?? 0));
  const zeros = new Float32Array(n), ones = new Float32Array(n).fill(1);
  const drawLabels = (): Int32Array | null => {
    if (!classes) return null;
    const l = new Int32Array(n);
    for (let i = 0; i < n; i++) l[i] = rng.int(classes);
    return l;
  };
  G.train(); D.train();

  // 1. Discriminator.
  const fakeLabels = drawLabels();
  const fake = noGrad(() => G.forward(sampleLatents(rng, n, G.config.latentDim), fakeLabels));
  optD.zeroGrad();
  const outReal = D.forward(real);
  let lossD = F.binaryCrossEntropy(outReal.prob, realTarget);
  let classAcc: number | undefined;
  if (outReal.classLogits && labels) {
    lossD = F.add(lossD, F.crossEntropy(outReal.classLogits, labels));
    classAcc = accuracy(outReal.classLogits, labels);
  }
  const outFake = D.forward(fake);
  const lossFake = F.binaryCrossEntropy(outFake.prob, zeros);
  lossD = F.add(lossD, lossFake);
  lossD.backward();
  optD.step();
  const dReal = meanOf(outReal.prob), dFake = meanOf(outFake.prob);

  // 2. Generator (non-saturating loss), D frozen.
  const dParams = D.parameters();
  setTrainable(dParams, false);
  try {
    optG.zeroGrad();
    const genLabels = drawLabels();
    const out = D.forward(G.forward(sampleLatents(rng, n, G.config.latentDim), genLabels));
    let lossG = F.binaryCrossEntropy(out.prob, ones);
    if (out.classLogits && genLabels) lossG = F.add(lossG, F.crossEntropy(out.classLogits, genLabels));
    lossG.backward();
    optG.step();
    return { dLoss: lossD.item(), gLoss: lossG.item(), dReal, dFake, classAcc };
  } finally {
    setTrainable(dParams, true);
  }
}

export function accuracy(logits: Tensor, labels: ArrayLike<number>): number {
  const C = logits.shape[1], x = logits.data;
  let ok = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let j = 1; j < C; j++) if (x[i * C + j] > x[i * C + best]) best = j;
    if (best === labels[i]) ok++;
  }
  return ok / labels.length;
}
