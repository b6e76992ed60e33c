/**
 * Scaled dot-product attention, fused: softmax(q·kᵀ·scale + mask) · v with its backward, on
 * the backend's batched GEMM and softmax. q (B, H, Tq, D), k and v (B, H, Tk, D).
 * With `causal`, query i (the last Tq of Tk positions) sees keys j <= i + (Tk − Tq), so the
 * same op serves training (Tq = Tk) and cached decoding (Tq < Tk). With `dropout`, the
 * attention probabilities are dropped (inverted dropout, as GPT-2's attn_pdrop) before they
 * weight v.
 */
import { ConfigError, ShapeError } from '../../errors.js';
import { backend } from '../backend/index.js';
import type { Rng } from '../rng.js';
import { makeResult, shapeStr, Tensor } from '../tensor.js';

export interface AttentionOptions {
  causal?: boolean;
  /** Per batch item and key position: 0 hides the key (left padding). Shape (B, Tk). */
  keyMask?: ArrayLike<number> | null;
  /** Default 1/sqrt(D). */
  scale?: number;
  /** Training: zero each attention probability with probability p (the rest scaled by 1/(1−p)). Default none. */
  dropout?: { p: number; rng: Rng } | null;
}

export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4) throw new ShapeError(`attention: q, k, v must be 4-D (B, H, T, D), got ${shapeStr(q.shape)}, ${shapeStr(k.shape)}, ${shapeStr(v.shape)}`);
  const [B, H, Tq, D] = q.shape;
  const Tk = k.shape[2];
  if (k.shape[0] !== B || k.shape[1] !== H || k.shape[3] !== D || v.shape.some((d, i) => d !== k.shape[i])) {
    throw new ShapeError(`attention: shapes q ${shapeStr(q.shape)}, k ${shapeStr(k.shape)}, v ${shapeStr(v.shape)} do not fit`);
  }
  const mask = opts.keyMask ?? null;
  if (mask && mask.length !== B * Tk) throw new ShapeError(`attention: keyMask has ${mask.length} entries, want B·Tk = ${B * Tk}`);
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  const be = backend();
  const BH = B * H;
  const p = new Float32Array(BH * Tq * Tk);
  be.matmul(q.data, k.data, p, BH, Tq, Tk, D, false, true, Tq * D, Tk * D, Tq * Tk, false);
  const off = Tk - Tq;
  for (let bh = 0; bh < BH; bh++) {
    const b = Math.floor(bh / H);
    for (let i = 0; i < Tq; i++) {
      const row = (bh * Tq + i) * Tk;
      for (let j = 0; j < Tk; j++) {
        const hidden = (opts.causal && j > i + off) || (mask !== null && mask[b * Tk + j] === 0);
        p[row + j] = hidden ? -Infinity : p[row + j] * scale;
      }
    }
  }
  be.softmaxForward(p, p, BH * Tq, Tk);
  // Dropped probabilities pd = P ⊙ keep / (1 − p) weight v; softmax's backward still needs P.
  const drop = opts.dropout && opts.dropout.p > 0 ? opts.dropout : null;
  let pd = p, keep: Uint8Array | null = null;
  const inv = drop ? 1 / (1 - drop.p) : 1;
  if (drop) {
    if (!(drop.p < 1)) throw new ConfigError(`attention dropout must be in [0, 1), got ${drop.p}`);
    keep = new Uint8Array(p.length);
    pd = new Float32Array(p.length);
    for (let i = 0; i < p.length; i++) {
      keep[i] = drop.rng.random() >= drop.p ? 1 : 0;
      pd[i] = keep[i] ? p[i] * inv : 0;
    }
  }
  const y = new Float32Array(BH * Tq * D);
  be.matmul(pd, v.data, y, BH, Tq, D, Tk, false, false, Tq * Tk, Tk * D, Tq * D, false);
  return makeResult(y, [B, H, Tq, D], [q, k, v], (g) => {
    // dV = Pdᵀ·dY ; dPd = dY·Vᵀ ; dP = dPd ⊙ keep/(1−p) ; dS = softmax'(dP) ; dQ = dS·K·scale ; dK = dSᵀ·Q·scale
    const dv = new Float32Array(v.size);
    be.matmul(pd, g, dv, BH, Tk, D, Tq, true, false, Tq * Tk, Tq * D, Tk * D, false);
    const dp = new Float32Array(BH * Tq * Tk);
    be.matmul(g, v.data, dp, BH, Tq, Tk, D, false, true, Tq * D, Tk * D, Tq * Tk, false);
    if (keep) for (let i = 0; i < dp.length; i++) dp[i] = keep[i] ? dp[i] * inv : 0;
    be.softmaxBackward(p, dp, dp, BH * Tq, Tk);
    for (let i = 0; i < dp.length; i++) dp[i] *= scale;
    const dq = new Float32Array(q.size), dk = new Float32Array(k.size);
    be.matmul(dp, k.data, dq, BH, Tq, D, Tk, false, false, Tq * Tk, Tk * D, Tq * D, false);
    be.matmul(dp, q.data, dk, BH, Tk, D, Tq, true, false, Tq * Tk, Tq * D, Tk * D, false);
    return [dq, dk, dv];
  });
}
