/** Picking the next token from a row of (processed) logits: argmax, or a seeded draw from the softmax. */
import type { Rng } from '../../engine/rng.js';

/** Index of the largest logit (the first one on ties, as torch.argmax). */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0, m = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > m) { m = logits[i]; best = i; }
  return best;
}

/** Draws a token with probability softmax(logits); -Infinity logits are never drawn. One Rng draw per call. */
export function sampleFromLogits(logits: Float32Array, rng: Rng): number {
  let m = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > m) m = logits[i];
  if (m === -Infinity) return argmax(logits);
  let total = 0;
  for (let i = 0; i < logits.length; i++) if (logits[i] !== -Infinity) total += Math.exp(logits[i] - m);
  const u = rng.random() * total;
  let acc = 0, last = 0;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] === -Infinity) continue;
    acc += Math.exp(logits[i] - m);
    last = i;
    if (acc > u) return i;
  }
  return last; // rounding: u landed at the very end
}

/** log-softmax of a row into `out` (float32 in, float32 out; accumulation in float64). */
export function logSoftmax(logits: ArrayLike<number>, out: Float32Array): Float32Array {
  let m = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > m) m = logits[i];
  let s = 0;
  for (let i = 0; i < logits.length; i++) s += Math.exp(logits[i] - m);
  const lse = m + Math.log(s);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] - lse;
  return out;
}
