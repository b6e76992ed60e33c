/**
 * Kernel benchmarks at the shapes of the PyTorch anchor (/work/shared/anchors/kernels_bench.py):
 * F.linear at GPT-2 124M shapes (weights [out, in], i.e. matmul with transB) and the seed
 * DCGAN's largest conv / conv-transpose, forward + both gradients. Same timing method as the
 * anchor: 3 warm-up calls, then the median of 5 rounds of N calls.
 */
import type { Backend, ConvGeometry } from '../engine/backend/types.js';
import type { BenchOptions } from './index.js';
import { timeMedian, type BenchRecord } from './record.js';

function randn(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    const u = (s + 1) / 4294967297;
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    const v = s / 4294967296;
    const r = Math.sqrt(-2 * Math.log(u));
    a[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) a[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return a;
}

export async function* benchKernels(opts: BenchOptions | { backend: Backend; quick?: boolean }): AsyncGenerator<BenchRecord> {
  const be = opts.backend;
  const quick = opts.quick ?? false;
  const base = { bench: 'kernels', threads: be.threads, backend: be.name };

  for (const [M, K, N, reps] of [[1, 768, 3072, 500], [1, 768, 50257, 20], [128, 768, 3072, 50], [512, 768, 768, 50]] as const) {
    const x = randn(M * K, 1), w = randn(N * K, 2), y = new Float32Array(M * N);
    const calls = quick ? Math.max(1, Math.ceil(reps / 10)) : be.name === 'ts' ? Math.max(1, Math.ceil(reps / 50)) : reps;
    const ms = timeMedian(() => be.matmul(x, w, y, 1, M, N, K, false, true, 0, 0, 0, false), calls);
    const rec: BenchRecord = { ...base, case: `linear ${M}x${K}->${N}`, ms, gflops: (2 * M * K * N) / (ms * 1e6) };
    if (M === 1) rec.gbps = (N * K * 4) / (ms * 1e6);
    yield rec;
  }

  // DCGAN (seed) largest layers, batch 16.
  const B = 16;
  const g: ConvGeometry = {
    batch: B, cIn: 64, hIn: 32, wIn: 32, cOut: 128, hOut: 16, wOut: 16,
    kH: 5, kW: 5, strideH: 2, strideW: 2, padTop: 2, padLeft: 2,
  };
  const flops = 3 * 2 * B * 128 * 16 * 16 * 64 * 25;
  const calls = quick || be.name === 'ts' ? 1 : 5;
  {
    const x = randn(B * 64 * 32 * 32, 3), w = randn(128 * 64 * 25, 4);
    const y = new Float32Array(B * 128 * 16 * 16), dy = randn(y.length, 5);
    const dx = new Float32Array(x.length), dw = new Float32Array(w.length);
    const ms = timeMedian(() => {
      be.conv2dForward(x, w, null, y, g);
      be.conv2dBackwardInput(dy, w, dx, g);
      be.conv2dBackwardWeight(x, dy, dw, g, false);
    }, calls);
    yield { ...base, case: 'conv2d fwd+bwd', ms, gflops: flops / (ms * 1e6) };
  }
  {
    // conv_transpose2d 16x128x16x16 -> 16x64x32x32, weight 128x64x5x5, stride 2, padding 2,
    // output_padding 1: the adjoint of the conv above (same geometry).
    const z = randn(B * 128 * 16 * 16, 6), w = randn(128 * 64 * 25, 7);
    const out = new Float32Array(B * 64 * 32 * 32), dout = randn(out.length, 8);
    const dz = new Float32Array(z.length), dw = new Float32Array(w.length);
    const ms = timeMedian(() => {
      be.conv2dBackwardInput(z, w, out, g); // forward
      be.conv2dForward(dout, w, null, dz, g); // gradient wrt the input
      be.conv2dBackwardWeight(dout, z, dw, g, false); // gradient wrt the weight
    }, calls);
    yield { ...base, case: 'conv_transpose2d fwd+bwd', ms, gflops: flops / (ms * 1e6) };
  }
}
