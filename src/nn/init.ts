/** Parameter initialisers. Each returns a new trainable tensor, drawing from an explicit Rng. */
import type { Rng } from '../engine/rng.js';
import { sizeOf, Tensor } from '../engine/tensor.js';

export function uniform(shape: readonly number[], lo: number, hi: number, rng: Rng): Tensor {
  return new Tensor(rng.fillUniform(new Float32Array(sizeOf(shape)), lo, hi), shape, true);
}

export function normal(shape: readonly number[], mean: number, std: number, rng: Rng): Tensor {
  return new Tensor(rng.fillNormal(new Float32Array(sizeOf(shape)), mean, std), shape, true);
}

/** Refills an existing parameter in place with N(mean, std) (e.g. GPT-2's 0.02, DCGAN's 0.02). */
export function normal_(t: Tensor, mean: number, std: number, rng: Rng): Tensor {
  rng.fillNormal(t.data, mean, std);
  return t;
}

export function fill_(t: Tensor, value: number): Tensor {
  t.data.fill(value);
  return t;
}
