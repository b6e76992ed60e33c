/**
 * Sampling from a generator with explicit seeds: every image is made from its own seed alone
 * (latent drawn from Rng(seed), generated as a batch of one in eval mode), so the same seed,
 * label and truncation give the same image bit for bit, however many images are made with it.
 */
import { Rng } from '../engine/rng.js';
import { noGrad, Tensor } from '../engine/tensor.js';
import { ConfigError } from '../errors.js';
import type { Generator } from './gan.js';

/**
 * A latent vector from a seed. With truncation t (0 < t), components with |z| > t are redrawn
 * (the truncation trick): less variety, more typical images.
 */
export function latentForSeed(seed: number, latentDim: number, truncation?: number): Float32Array {
  if (truncation !== undefined && !(truncation > 0)) throw new ConfigError(`truncation must be > 0, got ${truncation}`);
  const rng = new Rng(seed);
  const z = new Float32Array(latentDim);
  for (let i = 0; i < latentDim; i++) {
    let v = rng.normal();
    if (truncation !== undefined) while (Math.abs(v) > truncation) v = rng.normal();
    z[i] = v;
  }
  return z;
}

/** Resolves a label given by name (case-insensitive) or index to a class index. */
export function resolveLabel(labels: string[] | null, label: string | number | undefined | null): number | null {
  if (label === undefined || label === null || label === '') return null;
  if (!labels) throw new ConfigError(`this model is unconditional: it cannot generate a requested label ("${label}")`);
  const s = String(label).trim().toLowerCase();
  const byName = labels.findIndex((l) => l.toLowerCase() === s);
  if (byName >= 0) return byName;
  if (/^\d+$/.test(s) && Number(s) < labels.length) return Number(s);
  throw new ConfigError(`unknown label "${label}"; this model knows: ${labels.join(', ')}`);
}

/** Generator output (N, C, H, W) mapped to [0, 1]. */
export function toUnit(G: Generator, images: Tensor): Float32Array {
  if (G.config.output === 'sigmoid') return images.data;
  const out = new Float32Array(images.size);
  for (let i = 0; i < out.length; i++) out[i] = (images.data[i] + 1) / 2;
  return out;
}

/** One image (CHW in [0, 1]) per latent, generated one at a time in eval mode. */
export function generateFromLatents(G: Generator, latents: Float32Array[], labels: (number | null)[]): Float32Array[] {
  const wasTraining = G.training;
  G.eval();
  try {
    return latents.map((z, i) => noGrad(() => {
      const lab = labels[i];
      return toUnit(G, G.forward(new Tensor(z, [1, z.length]), lab === null ? null : [lab]));
    }));
  } finally {
    G.train(wasTraining);
  }
}

/** Spherical interpolation between two latent vectors (t in [0, 1]). */
export function slerp(a: Float32Array, b: Float32Array, t: number): Float32Array {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  const cos = Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb)));
  const omega = Math.acos(cos);
  const out = new Float32Array(a.length);
  if (omega < 1e-6) { for (let i = 0; i < a.length; i++) out[i] = a[i] + (b[i] - a[i]) * t; return out; }
  const s = Math.sin(omega), ka = Math.sin((1 - t) * omega) / s, kb = Math.sin(t * omega) / s;
  for (let i = 0; i < a.length; i++) out[i] = ka * a[i] + kb * b[i];
  return out;
}
