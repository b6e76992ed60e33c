/**
 * Losses, fused with their backward: cross-entropy over logits (with ignore index), the same
 * fused with the LM head's product (linearCrossEntropy), binary cross-entropy on probabilities (clamped as PyTorch)
 * and on logits (numerically stable), and mean squared error. All return the mean loss.
 */
import { ShapeError } from '../../errors.js';
import { backend } from '../backend/index.js';
import { isGradEnabled, makeResult, shapeStr, Tensor } from '../tensor.js';
import { sigmoidScalar } from '../math.js';

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

/**
 * The B·T × V logits buffer is reused from step to step (its first touch costs a page fault per
 * 4 KiB, ~0.1 s per step at V = 50257): one pooled buffer, lent to one forward at a time and
 * returned by its backward; a second forward before that backward gets a fresh array.
 */
let pool: Float32Array = new Float32Array(0);
let lent = false;

function acquireLogits(n: number): Float32Array {
  if (lent) return new Float32Array(n);
  if (pool.length < n) pool = new Float32Array(n);
  lent = true;
  return pool.subarray(0, n);
}

function releaseLogits(p: Float32Array): void {
  if (p.buffer === pool.buffer) lent = false;
}

/**
 * crossEntropy(linear(x, w), targets), fused: mean cross-entropy of logits = x · wᵀ
 * (x: (..., C), w: (V, C), an LM head) against one target per row, without materialising more
 * than one rows × V buffer. Softmax runs in place on the backend's kernel, the gradient is formed
 * in place in the same buffer, and both backward products (dX = dL·W, dW = dLᵀ·X) run on the
 * backend GEMM; at V = 50257 the unfused pair is most of a GPT-2 training step. Rows whose target
 * is ignoreIndex do not count (loss 0 when all are ignored).
 */
export function linearCrossEntropy(x: Tensor, w: Tensor, targets: ArrayLike<number>, opts: CrossEntropyOptions = {}): Tensor {
  const IGNORE_INDEX = opts.ignoreIndex ?? -100;
  const C = x.shape[x.ndim - 1];
  if (w.ndim !== 2 || w.shape[1] !== C) throw new ShapeError(`linearCrossEntropy: weight ${shapeStr(w.shape)} does not fit input ${shapeStr(x.shape)}`);
  const V = w.shape[0];
  const M = x.size / C;
  if (targets.length !== M) throw new ShapeError(`linearCrossEntropy: ${targets.length} targets for ${M} rows`);
  const be = backend();
  const needGrad = isGradEnabled() && (x.requiresGrad || w.requiresGrad);
  const p = acquireLogits(M * V);
  be.matmul(x.data, w.data, p, 1, M, V, C, false, true, 0, 0, 0, false);
  // Rows to keep; ignored rows are skipped by softmax and the gradient.
  let count = 0;
  for (let r = 0; r < M; r++) {
    const t = targets[r];
    if (t === IGNORE_INDEX) continue;
    if (!Number.isInteger(t) || t < 0 || t >= V) throw new ShapeError(`cross-entropy: target ${t} at row ${r} is outside the vocabulary [0, ${V})`, { code: 'bad_input' });
    count++;
  }
  const targetLogit = new Float64Array(M);
  for (let r = 0; r < M; r++) if (targets[r] !== IGNORE_INDEX) targetLogit[r] = p[r * V + targets[r]];
  be.softmaxForward(p, p, M, V);
  let total = 0;
  for (let r = 0; r < M; r++) {
    const t = targets[r];
    if (t === IGNORE_INDEX) continue;
    const pt = p[r * V + t];
    if (pt > 1e-30) total -= Math.log(pt);
    else {
      // The probability underflowed float32: recompute this row's log-sum-exp exactly.
      const xr = x.data.subarray(r * C, (r + 1) * C);
      let m = -Infinity;
      const row = new Float64Array(V);
      for (let j = 0; j < V; j++) {
        let s = 0;
        for (let c = 0; c < C; c++) s += xr[c] * w.data[j * C + c];
        row[j] = s;
        if (s > m) m = s;
      }
      let se = 0;
      for (let j = 0; j < V; j++) se += Math.exp(row[j] - m);
      total += m + Math.log(se) - targetLogit[r];
    }
  }
  const loss = count ? total / count : 0;
  if (!needGrad) {
    releaseLogits(p);
    return Tensor.scalar(loss);
  }
  return makeResult(Float32Array.of(loss), [], [x, w], (g) => {
    const k = count ? g[0] / count : 0;
    // dL/dlogits = (softmax − onehot) · k. The factor k is applied to the small operands
    // (x for dW, the result for dX) rather than to the M × V buffer: p becomes softmax − onehot
    // in place (a write per row), and ignored rows are zeroed.
    for (let r = 0; r < M; r++) {
      const o = r * V, t = targets[r];
      if (t === IGNORE_INDEX || k === 0) { p.fill(0, o, o + V); continue; }
      p[o + t] -= 1;
    }
    let gx: Float32Array | null = null, gw: Float32Array | null = null;
    if (x.requiresGrad) {
      gx = new Float32Array(x.size);
      be.matmul(p, w.data, gx, 1, M, C, V, false, false, 0, 0, 0, false);
      for (let i = 0; i < gx.length; i++) gx[i] *= k;
    }
    if (w.requiresGrad) {
      gw = new Float32Array(w.size);
      const xk = new Float32Array(x.size);
      for (let i = 0; i < xk.length; i++) xk[i] = x.data[i] * k;
      be.matmul(p, xk, gw, 1, V, C, M, true, false, 0, 0, 0, false);
    }
    releaseLogits(p);
    return [gx, gw];
  });
}
