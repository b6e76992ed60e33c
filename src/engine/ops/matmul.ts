/**
 * Matrix products on the backend's batched GEMM: matmul (with batch dims, a 2-D operand
 * broadcast over the other's batch) and linear (nn.Linear: x · Wᵀ + b with W as [out, in]).
 */
import { ShapeError } from '../../errors.js';
import { backend } from '../backend/index.js';
import { makeResult, shapeStr, sizeOf, Tensor } from '../tensor.js';

/**
 * a (..., M, K) · b (..., K, N) -> (..., M, N). Batch dims must match, or one operand is 2-D
 * and is shared across the other's batch. With transB, b is (..., N, K).
 */
export function matmul(a: Tensor, b: Tensor, opts: { transB?: boolean } = {}): Tensor {
  const transB = !!opts.transB;
  if (a.ndim < 2 || b.ndim < 2) throw new ShapeError(`matmul: operands must be at least 2-D, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  const [M, K] = a.shape.slice(-2);
  const [bR, bC] = b.shape.slice(-2);
  const Kb = transB ? bC : bR, N = transB ? bR : bC;
  if (K !== Kb) throw new ShapeError(`matmul: inner dimensions differ: ${shapeStr(a.shape)} · ${shapeStr(b.shape)}${transB ? 'ᵀ' : ''}`);
  const aBatch = a.shape.slice(0, -2), bBatch = b.shape.slice(0, -2);
  let batchShape: readonly number[];
  if (bBatch.length === 0) batchShape = aBatch;
  else if (aBatch.length === 0) batchShape = bBatch;
  else if (aBatch.length === bBatch.length && aBatch.every((d, i) => d === bBatch[i])) batchShape = aBatch;
  else throw new ShapeError(`matmul: batch dimensions of ${shapeStr(a.shape)} and ${shapeStr(b.shape)} do not match`);
  const batch = sizeOf(batchShape);
  const sA = aBatch.length ? M * K : 0, sB = bBatch.length ? K * N : 0;
  const be = backend();
  // A 2-D b under a batched a is one big GEMM: fold the batch into M.
  const fold = sB === 0 && sA !== 0;
  const out = new Float32Array(batch * M * N);
  if (fold) be.matmul(a.data, b.data, out, 1, batch * M, N, K, false, transB, 0, 0, 0, false);
  else be.matmul(a.data, b.data, out, batch, M, N, K, false, transB, sA, sB, M * N, false);
  return makeResult(out, [...batchShape, M, N], [a, b], (g) => {
    let ga: Float32Array | null = null, gb: Float32Array | null = null;
    if (a.requiresGrad) {
      // dA = dC · op(B)ᵀ
      ga = new Float32Array(a.size);
      if (fold) be.matmul(g, b.data, ga, 1, batch * M, K, N, false, !transB, 0, 0, 0, false);
      else if (sA === 0) be.matmul(g, b.data, ga, batch, M, K, N, false, !transB, M * N, sB, 0, true);
      else be.matmul(g, b.data, ga, batch, M, K, N, false, !transB, M * N, sB, M * K, false);
    }
    if (b.requiresGrad) {
      gb = new Float32Array(b.size);
      // dB = Aᵀ · dC  (or, for transB, dBᵀ = dCᵀ · A)
      if (fold) {
        if (transB) be.matmul(g, a.data, gb, 1, N, K, batch * M, true, false, 0, 0, 0, false);
        else be.matmul(a.data, g, gb, 1, K, N, batch * M, true, false, 0, 0, 0, false);
      } else if (transB) be.matmul(g, a.data, gb, batch, N, K, M, true, false, M * N, sA, sB, sB === 0);
      else be.matmul(a.data, g, gb, batch, K, N, M, true, false, sA, M * N, sB, sB === 0);
    }
    return [ga, gb];
  });
}

/** nn.Linear: x (..., in) · Wᵀ + bias, with W as [out, in]. */
export function linear(x: Tensor, w: Tensor, bias: Tensor | null = null): Tensor {
  if (w.ndim !== 2) throw new ShapeError(`linear: weight must be 2-D [out, in], got ${shapeStr(w.shape)}`);
  const [N, K] = w.shape;
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== K) throw new ShapeError(`linear: input ${shapeStr(x.shape)} does not end in ${K} (weight ${shapeStr(w.shape)})`);
  if (bias && (bias.ndim !== 1 || bias.size !== N)) throw new ShapeError(`linear: bias ${shapeStr(bias.shape)} does not match weight ${shapeStr(w.shape)}`);
  const M = x.size / K;
  const be = backend();
  const y = new Float32Array(M * N);
  if (bias) for (let i = 0; i < M; i++) y.set(bias.data, i * N);
  be.matmul(x.data, w.data, y, 1, M, N, K, false, true, 0, 0, 0, bias !== null);
  const inputs = bias ? [x, w, bias] : [x, w];
  return makeResult(y, [...x.shape.slice(0, -1), N], inputs, (g) => {
    let gx: Float32Array | null = null, gw: Float32Array | null = null, gbias: Float32Array | null = null;
    if (x.requiresGrad) {
      gx = new Float32Array(x.size); // (M×N)·(N×K)
      be.matmul(g, w.data, gx, 1, M, K, N, false, false, 0, 0, 0, false);
    }
    if (w.requiresGrad) {
      gw = new Float32Array(w.size); // gᵀ (N×M) · x (M×K)
      be.matmul(g, x.data, gw, 1, N, K, M, true, false, 0, 0, 0, false);
    }
    if (bias && bias.requiresGrad) {
      gbias = new Float32Array(N);
      for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) gbias[j] += g[i * N + j];
    }
    return bias ? [gx, gw, gbias] : [gx, gw];
  });
}
