/**
 * The training forward of GPT-2 used by the trainer: the model's own modules (gpt2.ts: wte,
 * wpe, blocks, ln_f) with a fused LM head + cross-entropy at the end.
 *
 * GPT2.forward computes the logits (B·T × V), then cross-entropy allocates softmax and gradient
 * buffers of the same size and evaluates exp() in JavaScript; at V = 50257 those are the
 * largest tensors of a step and most of its time. The fused op here keeps one B·T × V buffer:
 * logits, softmax in place on the backend's vectorised kernel, then the gradient in place, and
 * runs both backward products (dX = dL·W, dW = dLᵀ·X) on the backend GEMM. The loss and
 * gradients are the same as `crossEntropy(linear(x, wte))` (the PyTorch parity test checks it).
 */
import * as F from '../../engine/ops/index.js';
import { backend } from '../../engine/backend/index.js';
import { isGradEnabled, makeResult, shapeStr, Tensor } from '../../engine/tensor.js';
import { ConfigError, ShapeError } from '../../errors.js';
import type { GPT2 } from '../gpt2.js';

/** Targets equal to this are not predicted (prompt tokens, padding). */
export const IGNORE_INDEX = -1;

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
 * Mean cross-entropy of logits = x · wᵀ (x: (..., C), w: (V, C)) against one target per row;
 * rows whose target is IGNORE_INDEX do not count (loss 0 when all are ignored).
 */
export function lmHeadCrossEntropy(x: Tensor, w: Tensor, targets: ArrayLike<number>): Tensor {
  const C = x.shape[x.ndim - 1];
  if (w.ndim !== 2 || w.shape[1] !== C) throw new ShapeError(`lmHeadCrossEntropy: weight ${shapeStr(w.shape)} does not fit input ${shapeStr(x.shape)}`);
  const V = w.shape[0];
  const M = x.size / C;
  if (targets.length !== M) throw new ShapeError(`lmHeadCrossEntropy: ${targets.length} targets for ${M} rows`);
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

/**
 * Token embedding rows for ids, with the gradient of the table kept out of the autograd graph:
 * backward collects the (B·T × C) row gradients, and `finish()` adds them into `weight.grad`
 * after backward. The graph would otherwise allocate and add a dense V × C gradient for a
 * table whose other gradient (from the tied LM head) is dense already.
 */
function embeddingSparseGrad(weight: Tensor, ids: ArrayLike<number>, shape: readonly number[]): { out: Tensor; finish: () => void } {
  if (!weight.requiresGrad || !isGradEnabled()) return { out: F.embedding(weight, ids, shape), finish: () => undefined };
  const rows = F.embedding(noGradView(weight), ids, shape); // values only
  const C = weight.shape[1];
  let rowGrads: Float32Array | null = null;
  const anchor = new Tensor(new Float32Array(1), [1], true);
  const out = makeResult(rows.data, rows.shape, [anchor], (g) => {
    rowGrads = rowGrads ?? new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) rowGrads[i] += g[i];
    return [null];
  });
  const finish = () => {
    if (!rowGrads) return;
    if (!weight.grad) weight.grad = Tensor.zeros(weight.shape);
    const gw = weight.grad.data, rg = rowGrads;
    for (let i = 0; i < ids.length; i++) {
      const o = ids[i] * C, r = i * C;
      for (let j = 0; j < C; j++) gw[o + j] += rg[r + j];
    }
    rowGrads = null;
  };
  return { out, finish };
}

function noGradView(t: Tensor): Tensor {
  return new Tensor(t.data, t.shape, false);
}

/**
 * GPT-2's forward for training: ids (B·T) → mean cross-entropy against targets (B·T,
 * IGNORE_INDEX for positions without a target). Positions are 0..T-1 (no padding).
 * Call `finish()` after `loss.backward()` (it adds the token-embedding gradient).
 */
export function trainingLoss(model: GPT2, ids: ArrayLike<number>, B: number, T: number, targets: ArrayLike<number>): { loss: Tensor; finish: () => void } {
  const c = model.config;
  if (ids.length !== B * T || targets.length !== B * T) throw new ConfigError(`training batch: ${ids.length} ids / ${targets.length} targets do not fit B=${B} × T=${T}`);
  if (T > c.nPositions) throw new ConfigError(`training batch: ${T} tokens exceed the context window of ${c.nPositions}`);
  const pos = new Int32Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) pos[b * T + t] = t;
  const tok = embeddingSparseGrad(model.wte.weight, ids, [B, T]);
  let x = F.add(tok.out, model.wpe.lookup(pos, [B, T]));
  for (const block of model.h) x = block.forward(x, null);
  x = model.ln_f.forward(x);
  return { loss: lmHeadCrossEntropy(x, model.wte.weight, targets), finish: tok.finish };
}
