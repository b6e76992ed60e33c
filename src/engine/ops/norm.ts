/**
 * Normalising ops over the last axis (softmax, log-softmax, layer norm) and over channels
 * (batch norm, NCHW or NC), each with its backward.
 */
import { ShapeError } from '../../errors.js';
import { backend } from '../backend/index.js';
import { makeResult, normAxis, shapeStr, Tensor } from '../tensor.js';
import { permute } from './shape.js';

/** Softmax over an axis (the last by default: the fused kernel; other axes permute around it). */
export function softmax(a: Tensor, axis = -1): Tensor {
  const ax = normAxis(axis, a.ndim, 'softmax');
  if (ax !== a.ndim - 1) return aroundLastAxis(a, ax, softmax);
  const cols = a.shape[ax], rows = a.size / cols;
  const y = new Float32Array(a.size);
  backend().softmaxForward(a.data, y, rows, cols);
  return makeResult(y, a.shape, [a], (g) => {
    const dx = new Float32Array(g.length);
    backend().softmaxBackward(y, g, dx, rows, cols);
    return [dx];
  });
}

/** log(softmax(x)) computed stably as x − max − log Σ exp(x − max). */
export function logSoftmax(a: Tensor, axis = -1): Tensor {
  const ax = normAxis(axis, a.ndim, 'logSoftmax');
  if (ax !== a.ndim - 1) return aroundLastAxis(a, ax, logSoftmax);
  const cols = a.shape[ax], rows = a.size / cols;
  const x = a.data, y = new Float32Array(a.size);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let m = -Infinity;
    for (let j = 0; j < cols; j++) if (x[o + j] > m) m = x[o + j];
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x[o + j] - m);
    const lse = m + Math.log(s);
    for (let j = 0; j < cols; j++) y[o + j] = x[o + j] - lse;
  }
  return makeResult(y, a.shape, [a], (g) => {
    // dx = g − softmax · Σg
    const dx = new Float32Array(g.length);
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let s = 0;
      for (let j = 0; j < cols; j++) s += g[o + j];
      for (let j = 0; j < cols; j++) dx[o + j] = g[o + j] - Math.exp(y[o + j]) * s;
    }
    return [dx];
  });
}

function aroundLastAxis(a: Tensor, ax: number, f: (t: Tensor) => Tensor): Tensor {
  const perm = [...Array(a.ndim).keys()];
  [perm[ax], perm[a.ndim - 1]] = [perm[a.ndim - 1], perm[ax]];
  return permute(f(permute(a, perm)), perm);
}

/** Layer norm over the last axis with optional affine gamma/beta (shape [C]). */
export function layerNorm(x: Tensor, gamma: Tensor | null, beta: Tensor | null, eps = 1e-5): Tensor {
  const C = x.shape[x.ndim - 1];
  for (const [n, p] of [['gamma', gamma], ['beta', beta]] as const) {
    if (p && (p.ndim !== 1 || p.size !== C)) throw new ShapeError(`layerNorm: ${n} ${shapeStr(p.shape)} does not match input ${shapeStr(x.shape)}`);
  }
  const rows = x.size / C;
  const y = new Float32Array(x.size);
  const mean = new Float32Array(rows), rstd = new Float32Array(rows);
  backend().layerNormForward(x.data, gamma?.data ?? null, beta?.data ?? null, y, mean, rstd, rows, C, eps);
  const inputs = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  return makeResult(y, x.shape, inputs, (g) => {
    const dx = new Float32Array(x.size);
    const dg = gamma?.requiresGrad ? new Float32Array(C) : null;
    const db = beta?.requiresGrad ? new Float32Array(C) : null;
    backend().layerNormBackward(g, x.data, gamma?.data ?? null, mean, rstd, dx, dg, db, rows, C);
    return [x.requiresGrad ? dx : null, ...(gamma ? [dg] : []), ...(beta ? [db] : [])];
  });
}

export interface BatchNormState {
  runningMean: Float32Array;
  runningVar: Float32Array;
}

/**
 * Batch norm over channel axis 1 of (N, C) or (N, C, H, W). In training it normalises with
 * the batch statistics and updates the running ones (momentum as PyTorch: new = (1−m)·old +
 * m·batch, unbiased variance for the running estimate); in eval it uses the running ones.
 */
export function batchNorm(
  x: Tensor, gamma: Tensor | null, beta: Tensor | null, state: BatchNormState,
  opts: { training: boolean; momentum?: number; eps?: number },
): Tensor {
  if (x.ndim !== 2 && x.ndim !== 4) throw new ShapeError(`batchNorm: input must be (N, C) or (N, C, H, W), got ${shapeStr(x.shape)}`);
  const [N, C] = x.shape;
  const HW = x.ndim === 4 ? x.shape[2] * x.shape[3] : 1;
  if (state.runningMean.length !== C) throw new ShapeError(`batchNorm: ${state.runningMean.length} channels in state, input ${shapeStr(x.shape)}`);
  const eps = opts.eps ?? 1e-5, momentum = opts.momentum ?? 0.1;
  const count = N * HW;
  const mean = new Float32Array(C), rstd = new Float32Array(C);
  const xd = x.data;
  if (opts.training) {
    if (count < 2) throw new ShapeError(`batchNorm: training needs more than one value per channel, got input ${shapeStr(x.shape)}`, { code: 'bad_input' });
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let n = 0; n < N; n++) { const o = (n * C + c) * HW; for (let i = 0; i < HW; i++) s += xd[o + i]; }
      const mu = s / count;
      let v = 0;
      for (let n = 0; n < N; n++) { const o = (n * C + c) * HW; for (let i = 0; i < HW; i++) { const d = xd[o + i] - mu; v += d * d; } }
      mean[c] = mu;
      rstd[c] = 1 / Math.sqrt(v / count + eps);
      state.runningMean[c] = (1 - momentum) * state.runningMean[c] + momentum * mu;
      state.runningVar[c] = (1 - momentum) * state.runningVar[c] + momentum * (v / (count - 1));
    }
  } else {
    for (let c = 0; c < C; c++) {
      mean[c] = state.runningMean[c];
      rstd[c] = 1 / Math.sqrt(state.runningVar[c] + eps);
    }
  }
  const y = new Float32Array(x.size);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const o = (n * C + c) * HW, gc = gamma ? gamma.data[c] : 1, bc = beta ? beta.data[c] : 0;
      for (let i = 0; i < HW; i++) y[o + i] = (xd[o + i] - mean[c]) * rstd[c] * gc + bc;
    }
  }
  const inputs = [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])];
  const training = opts.training;
  return makeResult(y, x.shape, inputs, (g) => {
    const dx = new Float32Array(x.size);
    const dg = new Float32Array(C), db = new Float32Array(C);
    for (let c = 0; c < C; c++) {
      let sg = 0, sgn = 0;
      for (let n = 0; n < N; n++) {
        const o = (n * C + c) * HW;
        for (let i = 0; i < HW; i++) { sg += g[o + i]; sgn += g[o + i] * (xd[o + i] - mean[c]) * rstd[c]; }
      }
      dg[c] = sgn; db[c] = sg;
      const gc = gamma ? gamma.data[c] : 1;
      for (let n = 0; n < N; n++) {
        const o = (n * C + c) * HW;
        for (let i = 0; i < HW; i++) {
          if (training) {
            const xn = (xd[o + i] - mean[c]) * rstd[c];
            dx[o + i] = gc * rstd[c] * (g[o + i] - sg / count - xn * sgn / count);
          } else dx[o + i] = gc * rstd[c] * g[o + i];
        }
      }
    }
    return [dx, ...(gamma ? [dg] : []), ...(beta ? [db] : [])];
  });
}
