/** Inverted dropout: in training zeroes each element with probability p and scales the rest by 1/(1−p). */
import { ConfigError } from '../../errors.js';
import type { Rng } from '../rng.js';
import { makeResult, Tensor } from '../tensor.js';

export function dropout(x: Tensor, p: number, rng: Rng, training: boolean): Tensor {
  if (!(p >= 0 && p < 1)) throw new ConfigError(`dropout: probability must be in [0, 1), got ${p}`);
  if (!training || p === 0) return x;
  const keep = 1 / (1 - p);
  const mask = new Float32Array(x.size);
  const y = new Float32Array(x.size);
  for (let i = 0; i < x.size; i++) {
    mask[i] = rng.random() >= p ? keep : 0;
    y[i] = x.data[i] * mask[i];
  }
  return makeResult(y, x.shape, [x], (g) => {
    const dx = new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) dx[i] = g[i] * mask[i];
    return [dx];
  });
}
