/**
 * Scaled dot-product attention, fused: softmax(q·kᵀ·scale + mask) · v with its backward, on
 * the backend's batched GEMM and softmax. q (B, H, Tq, D), k and v (B, H, Tk, D).
 * With `causal`, query i (the last Tq of Tk positions) sees keys j <= i + (Tk − Tq), so the
 * same op serves training (Tq = Tk) and cached decoding (Tq < Tk).
 */
import { ShapeError } from '../../errors.js';
import { backend } from '../backend/index.js';
import { makeResult, shapeStr, Tensor } from '../tensor.js';

export interface AttentionOptions {
  causal?: boolean;
  /** Per batch item and key position: 0 hides the key (left padding). Shape (B, Tk). */
  keyMask?: ArrayLike<number> | null;
  /** Default 1/sqrt(D). */
  scale?: number;
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
  const y = new Float32Array(BH * Tq * D);
  be.matmul(p, v.data, y, BH, Tq, D, Tk, false, false, Tq * Tk, Tk * D, Tq * D, false);
  return makeResult(y, [B, H, Tq, D], [q, k, v], (g) => {
    // dV = Pᵀ·dY ; dP = dY·Vᵀ ; dS = softmax'(dP) ; dQ = dS·K·scale ; dK = dSᵀ·Q·scale
    const dv = new Float32Array(v.size);
    be.matmul(p, g, dv, BH, Tk, D, Tq, true, false, Tq * Tk, Tq * D, Tk * D, false);
    const dp = new Float32Array(BH * Tq * Tk);
    be.matmul(g, v.data, dp, BH, Tq, Tk, D, false, true, Tq * D, Tk * D, Tq * Tk, false);
    be.softmaxBackward(p, dp, dp, BH * Tq, Tk);
    for (let i = 0; i < dp.length; i++) dp[i] *= scale;
    const dq = new Float32Array(q.size), dk = new Float32Array(k.size);
    be.matmul(dp, k.data, dq, BH, Tq, D, Tk, false, false, Tq * Tk, Tk * D, Tq * D, false);
    be.matmul(dp, q.data, dk, BH, Tk, D, Tq, true, false, Tq * Tk, Tq * D, Tk * D, false);
    return [dq, dk, dv];
  });
}
