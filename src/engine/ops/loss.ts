/**
 * Losses, fused with their backward: cross-entropy over logits (with ignore index and
 * optional per-token weights), binary cross-entropy on probabilities (clamped as PyTorch)
 * and on logits (numerically stable), and mean squared error. All return the mean loss.
 */
import { ShapeError } from '../../errors.js';
import { makeResult, shapeStr, Tensor } from '../tensor.js';
import { sigmoidScalar } from './elementwise.js';

export interface CrossEntropyOptions {
  /** Targets equal to this are skipped (default -100, as PyTorch). */
  ignoreIndex?: number;
}

/**
 * Mean cross-entropy of logits (..., C) against integer targets (one per row). Rows whose
 * target is ignoreIndex do not count; if all are ignored the loss is 0.
 */
export function crossEntropy(logits: Tensor, targets: ArrayLike<number>, opts: CrossEntropyOptions = {}): Tensor {
  const ignore = opts.ignoreIndex ?? -100;
  const C = logits.shape[logits.ndim - 1];
  const rows = logits.size / C;
  if (targets.length !== rows) throw new ShapeError(`crossEntropy: ${targets.length} targets for logits ${shapeStr(logits.shape)} (${rows} rows)`);
  const x = logits.data;
  const probs = new Float32Array(logits.size); // softmax, kept for backward
  let total = 0, count = 0;
  for (let r = 0; r < rows; r++) {
    const t = targets[r];
    if (t === ignore) continue;
    if (!Number.isInteger(t) || t < 0 || t >= C) throw new ShapeError(`crossEntropy: target ${t} at row ${r} is outside [0, ${C})`, { code: 'bad_input' });
    const o = r * C;
    let m = -Infinity;
    for (let j = 0; j < C; j++) if (x[o + j] > m) m = x[o + j];
    let s = 0;
    for (let j = 0; j < C; j++) { const e = Math.exp(x[o + j] - m); probs[o + j] = e; s += e; }
    const inv = 1 / s;
    for (let j = 0; j < C; j++) probs[o + j] *= inv;
    total += m + Math.log(s) - x[o + t];
    count++;
  }
  const loss = count ? total / count : 0;
  return makeResult(Float32Array.of(loss), [], [logits], (g) => {
    const dx = new Float32Array(logits.size);
    if (!count) return [dx];
    const k = g[0] / count;
    for (let r = 0; r < rows; r++) {
      const t = targets[r];
      if (t === ignore) continue;
      const o = r * C;
      for (let j = 0; j < C; j++) dx[o + j] = probs[o + j] * k;
      dx[o + t] -= k;
    }
    return [dx];
  });
}

function checkSame(op: string, a: Tensor, t: Tensor | ArrayLike<number>): Float32Array | ArrayLike<number> {
  const td = t instanceof Tensor ? t.data : t;
  if (td.length !== a.size) throw new ShapeError(`${op}: ${td.length} targets for input ${shapeStr(a.shape)}`);
  return td;
}

/** Mean binary cross-entropy of probabilities p against targets in [0, 1]; logs clamped at −100 as PyTorch. */
export function binaryCrossEntropy(p: Tensor, target: Tensor | ArrayLike<number>): Tensor {
  const t = checkSame('binaryCrossEntropy', p, target);
  const n = p.size, x = p.data;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const lp = Math.max(Math.log(x[i]), -100), l1p = Math.max(Math.log(1 - x[i]), -100);
    total -= t[i] * lp + (1 - t[i]) * l1p;
  }
  return makeResult(Float32Array.of(total / n), [], [p], (g) => {
    const dx = new Float32Array(n), k = g[0] / n;
    // d/dp = (p − t) / (p (1 − p)), with the denominator bounded away from 0 (PyTorch uses eps 1e-12).
    for (let i = 0; i < n; i++) dx[i] = (k * (x[i] - t[i])) / Math.max((1 - x[i]) * x[i], 1e-12);
    return [dx];
  });
}

/** Mean binary cross-entropy on logits: max(x,0) − x·t + log(1 + e^−|x|), stable for any x. */
export function binaryCrossEntropyWithLogits(logits: Tensor, target: Tensor | ArrayLike<number>): Tensor {
  const t = checkSame('binaryCrossEntropyWithLogits', logits, target);
  const n = logits.size, x = logits.data;
  let total = 0;
  for (let i = 0; i < n; i++) total += Math.max(x[i], 0) - x[i] * t[i] + Math.log1p(Math.exp(-Math.abs(x[i])));
  return makeResult(Float32Array.of(total / n), [], [logits], (g) => {
    const dx = new Float32Array(n), k = g[0] / n;
    for (let i = 0; i < n; i++) dx[i] = k * (sigmoidScalar(x[i]) - t[i]);
    return [dx];
  });
}

/** Mean squared error. */
export function mseLoss(a: Tensor, target: Tensor | ArrayLike<number>): Tensor {
  const t = checkSame('mseLoss', a, target);
  const n = a.size, x = a.data;
  let total = 0;
  for (let i = 0; i < n; i++) total += (x[i] - t[i]) ** 2;
  return makeResult(Float32Array.of(total / n), [], [a], (g) => {
    const dx = new Float32Array(n), k = (2 * g[0]) / n;
    for (let i = 0; i < n; i++) dx[i] = k * (x[i] - t[i]);
    return [dx];
  });
}
