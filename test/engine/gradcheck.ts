/**
 * Finite-difference gradient check. The scalar probed is L = Σ out_i · w_i with fixed random
 * weights w, summed in float64; central differences of L are compared with the gradients that
 * backward() puts on each input.
 */
import { expect } from 'vitest';
import { Rng, Tensor } from '../../src/engine/index.js';

export interface GradcheckOptions {
  h?: number;
  atol?: number;
  rtol?: number;
  /** Check at most this many elements per input (chosen at random); default all. */
  maxChecks?: number;
}

export function gradcheck(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): void {
  const h = opts.h ?? 1e-2, atol = opts.atol ?? 2e-3, rtol = opts.rtol ?? 2e-2;
  const rng = new Rng(1234);
  for (const x of inputs) { x.requiresGrad = true; x.grad = null; }
  const out = f(...inputs);
  const w = new Float64Array(out.size).map(() => rng.uniform(-1, 1));
  const probe = (): number => {
    const o = f(...inputs.map((t) => t.detach()));
    let s = 0;
    for (let i = 0; i < o.size; i++) s += o.data[i] * w[i];
    return s;
  };
  out.backward(Float32Array.from(w));
  for (const [k, x] of inputs.entries()) {
    const grad = x.grad?.data ?? new Float32Array(x.size);
    const idx = [...Array(x.size).keys()];
    if (opts.maxChecks && idx.length > opts.maxChecks) rng.shuffle(idx);
    for (const i of idx.slice(0, opts.maxChecks ?? idx.length)) {
      const orig = x.data[i];
      x.data[i] = orig + h;
      const up = probe();
      x.data[i] = orig - h;
      const down = probe();
      x.data[i] = orig;
      const numeric = (up - down) / (2 * h);
      const err = Math.abs(numeric - grad[i]);
      if (err > atol + rtol * Math.abs(numeric)) {
        expect.fail(`input ${k} element ${i}: analytic ${grad[i]} vs numeric ${numeric}`);
      }
    }
  }
}

export function randn(shape: number[], seed: number, scale = 1): Tensor {
  const rng = new Rng(seed);
  const t = Tensor.zeros(shape);
  rng.fillNormal(t.data, 0, scale);
  return t;
}
