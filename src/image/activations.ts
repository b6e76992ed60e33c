/**
 * Activations for the GAN networks as tight monomorphic loops. The engine's generic unary ops
 * call a closure per element, which costs about a quarter of a seed64 training step; these
 * compute the same values (same formulas, float32 results) several times faster. Gradients
 * are checked against the engine's ops in test/image/activations.test.ts.
 */
import { makeResult, Tensor } from '../engine/tensor.js';

/**
 * ReLU. With `inPlace` the result overwrites the input's storage (no allocation, no page
 * faults): only for inputs nothing else reads afterwards, such as the output of a
 * convolution, dense or batch-norm layer (their backward passes read their inputs, not their
 * outputs). The gradient is masked with the output (y > 0 exactly when x > 0).
 */
export function relu(a: Tensor, inPlace = false): Tensor {
  const x = a.data, n = x.length, y = inPlace ? x : new Float32Array(n);
  for (let i = 0; i < n; i++) { const v = x[i]; y[i] = v > 0 ? v : 0; }
  return makeResult(y, a.shape, [a], (g) => {
    const dx = new Float32Array(n);
    for (let i = 0; i < n; i++) dx[i] = y[i] > 0 ? g[i] : 0;
    return [dx];
  });
}

/** LeakyReLU (slope > 0); `inPlace` as for relu. The gradient is masked with the output's sign. */
export function leakyRelu(a: Tensor, slope: number, inPlace = false): Tensor {
  const x = a.data, n = x.length, y = inPlace ? x : new Float32Array(n);
  for (let i = 0; i < n; i++) { const v = x[i]; y[i] = v > 0 ? v : slope * v; }
  return makeResult(y, a.shape, [a], (g) => {
    const dx = new Float32Array(n);
    for (let i = 0; i < n; i++) dx[i] = y[i] > 0 ? g[i] : slope * g[i];
    return [dx];
  });
}

export function sigmoid(a: Tensor): Tensor {
  const x = a.data, n = x.length, y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = x[i];
    if (v >= 0) y[i] = 1 / (1 + Math.exp(-v));
    else { const e = Math.exp(v); y[i] = e / (1 + e); }
  }
  return makeResult(y, a.shape, [a], (g) => {
    const dx = new Float32Array(n);
    for (let i = 0; i < n; i++) { const s = y[i]; dx[i] = g[i] * s * (1 - s); }
    return [dx];
  });
}

export function tanh(a: Tensor): Tensor {
  const x = a.data, n = x.length, y = new Float32Array(n);
  for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i]);
  return makeResult(y, a.shape, [a], (g) => {
    const dx = new Float32Array(n);
    for (let i = 0; i < n; i++) { const t = y[i]; dx[i] = g[i] * (1 - t * t); }
    return [dx];
  });
}
