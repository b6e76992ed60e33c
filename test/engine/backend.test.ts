/**
 * Every kernel of the native backend against the TypeScript reference, on random inputs and
 * many shapes (odd sizes, M=1, batches, broadcast strides, all transpositions, conv geometries
 * with stride 1/2, asymmetric padding, non-square), under each ISA level the CPU supports.
 * Tolerance: fp32 accumulation vs the reference's float64 sums, 1e-4 relative to max |ref|.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tsBackend } from '../../src/engine/backend/ts.js';
import { bf16ToF32, encodeF32ToBF16 } from '../../src/engine/half.js';
import { toPanels } from '../../src/engine/panels.js';
import type { ConvGeometry } from '../../src/engine/backend/types.js';
import { loadNativeBackend, type NativeBackend, type NativeIsa } from '../../src/engine/backend/native.js';

let native: NativeBackend | undefined;
let loadError: unknown;
try {
  native = loadNativeBackend();
} catch (e) {
  loadError = e;
}

const ts = tsBackend;

// ---- helpers ----
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}
function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = r() + 1e-12, v = r();
    a[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return a;
}
/** A view at a non-zero offset of a larger buffer holding `src`, to exercise byte offsets. */
function view(src: Float32Array, off = 3): Float32Array {
  const big = new Float32Array(src.length + off + 5).fill(Number.NaN);
  big.set(src, off);
  return big.subarray(off, off + src.length);
}
function close(actual: Float32Array, expected: Float32Array, tol = 1e-4, what = '', floor = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  let maxRef = 0, maxErr = 0, at = -1;
  for (let i = 0; i < expected.length; i++) maxRef = Math.max(maxRef, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const e = Math.abs(actual[i] - expected[i]);
    if (!(e <= maxErr)) { maxErr = e; at = i; }
  }
  const bound = tol * Math.max(maxRef, floor);
  if (!(maxErr <= bound)) {
    throw new Error(`${what}: max error ${maxErr} at ${at} (got ${actual[at]}, want ${expected[at]}) > ${bound} (max |ref| ${maxRef})`);
  }
}
const f32ToBf16 = (x: Float32Array) => encodeF32ToBF16(x);

function convOut(hIn: number, k: number, s: number, padTotal: number): number {
  return Math.floor((hIn + padTotal - k) / s) + 1;
}
/** PyTorch-style symmetric padding p. */
function geomSym(batch: number, cIn: number, hIn: number, wIn: number, cOut: number, kH: number, kW: number, s: number, p: number): ConvGeometry {
  return {
    batch, cIn, hIn, wIn, cOut, kH, kW, strideH: s, strideW: s, padTop: p, padLeft: p,
    hOut: convOut(hIn, kH, s, 2 * p), wOut: convOut(wIn, kW, s, 2 * p),
  };
}
/** Keras 'same': out = ceil(in/s), extra padding at the bottom/right. */
function geomSame(batch: number, cIn: number, hIn: number, wIn: number, cOut: number, kH: number, kW: number, s: number): ConvGeometry {
  const hOut = Math.ceil(hIn / s), wOut = Math.ceil(wIn / s);
  const ph = Math.max((hOut - 1) * s + kH - hIn, 0), pw = Math.max((wOut - 1) * s + kW - wIn, 0);
  return { batch, cIn, hIn, wIn, cOut, kH, kW, strideH: s, strideW: s, padTop: Math.floor(ph / 2), padLeft: Math.floor(pw / 2), hOut, wOut };
}

const matmulShapes: [number, number, number, number][] = [
  // batch, m, n, k
  [1, 1, 1, 1],
  [1, 1, 3072, 768],
  [1, 1, 50, 37],
  [1, 5, 17, 33],
  [2, 8, 33, 17],
  [1, 9, 70, 31],
  [1, 64, 64, 64],
  [12, 1, 40, 64],
  [12, 7, 40, 64],
  [3, 33, 47, 129],
  [1, 128, 300, 257],
  [1, 600, 40, 20],
  [2, 17, 1, 600],
];

const convGeoms: [string, ConvGeometry][] = [
  ['k3 s1 p1 8x8 batch2', geomSym(2, 3, 8, 8, 5, 3, 3, 1, 1)],
  ['k5 s2 p2 32->16 (pytorch)', geomSym(2, 4, 32, 32, 6, 5, 5, 2, 2)],
  ['k5 s2 keras same 32->16 (padTop 1)', geomSame(2, 3, 32, 32, 4, 5, 5, 2)],
  ['k1 s1 p0 non-square 7x9', geomSym(3, 16, 7, 9, 8, 1, 1, 1, 0)],
  ['k3 s2 keras same non-square 9x13', geomSame(2, 5, 9, 13, 7, 3, 3, 2)],
  ['k4 s2 p1 16->8 batch1', geomSym(1, 8, 16, 16, 16, 4, 4, 2, 1)],
  ['k5 s2 p2 batch4 16->8 multi-thread', geomSym(4, 16, 16, 16, 32, 5, 5, 2, 2)],
  ['k5 s1 p2 batch3 cOut 33', geomSym(3, 5, 10, 10, 33, 5, 5, 1, 2)],
  ['k3x5 s1 p0 non-square kernel', { ...geomSym(2, 6, 11, 12, 9, 3, 5, 1, 0), hOut: 9, wOut: 8 }],
  ['k5 s2 p2 batch16 64ch (bench shape, small)', geomSym(16, 64, 8, 8, 40, 5, 5, 2, 2)],
  ['k4 s2 p1 batch2 cIn3 32->16', geomSym(2, 3, 32, 32, 40, 4, 4, 2, 1)],
  ['k3 s2 p1 batch5 6x6->3x3 (images grouped per GEMM)', geomSym(5, 7, 6, 6, 9, 3, 3, 2, 1)],
  ['k4 s2 p1 batch7 8x8->4x4 256ch (DCGAN tail)', geomSym(7, 40, 8, 8, 24, 4, 4, 2, 1)],
  ['k1 s1 p0 batch9 1x1', geomSym(9, 20, 1, 1, 12, 1, 1, 1, 0)],
];

function runSuite(isa: NativeIsa | 'default'): void {
  const nb = native!;
  let previous: NativeIsa;
  beforeAll(() => {
    previous = nb.isa();
    if (isa !== 'default') nb.setIsa(isa);
  });
  afterAll(() => { nb.setIsa(previous); });

  it('reports its ISA', () => {
    if (isa !== 'default') expect(nb.isa()).toBe(isa);
  });

  it('matmul: all shapes x transA x transB x accumulate, broadcast strides, offset views', () => {
    let seed = 1;
    for (const [batch, m, n, k] of matmulShapes) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          for (const bcast of [0, 1, 2]) {
            if (bcast > 0 && batch === 1) continue;
            for (const accumulate of [false, true]) {
              const strideA = bcast === 1 ? 0 : m * k, strideB = bcast === 2 ? 0 : k * n, strideC = m * n;
              const a = randn(strideA * (batch - 1) + m * k, seed++);
              const b = randn(strideB * (batch - 1) + k * n, seed++);
              const c0 = randn(batch * m * n, seed++);
              const want = c0.slice();
              ts.matmul(a, b, want, batch, m, n, k, transA, transB, strideA, strideB, strideC, accumulate);
              const got = view(c0);
              nb.matmul(view(a), view(b), got, batch, m, n, k, transA, transB, strideA, strideB, strideC, accumulate);
              close(got, want, 1e-4, `matmul b${batch} m${m} n${n} k${k} tA${transA} tB${transB} bcast${bcast} acc${accumulate}`);
            }
          }
        }
      }
    }
  });

  it('matmul: strideC 0 (all items into one C) and k = 0', () => {
    for (const [accumulate, [batch, m, n, k], transB] of [false, true].flatMap((acc) =>
      ([[3, 20, 40, 16], [3, 1, 300, 64], [4, 4, 300, 64], [3, 1, 1000, 600]] as const).flatMap((sh) =>
        [false, true].map((tb) => [acc, sh, tb] as const)))) {
      const a = randn(batch * m * k, 5), b = randn(batch * k * n, 6), c0 = randn(m * n, 7);
      const want = c0.slice(), got = c0.slice();
      ts.matmul(a, b, want, batch, m, n, k, false, transB, m * k, k * n, 0, accumulate);
      nb.matmul(a, b, got, batch, m, n, k, false, transB, m * k, k * n, 0, accumulate);
      close(got, want, 1e-4, `strideC 0 acc${accumulate} m${m} n${n} tB${transB}`);
    }
    const c = randn(12, 8), want = c.slice();
    ts.matmul(new Float32Array(0), new Float32Array(0), want, 1, 3, 4, 0, false, false, 0, 0, 0, false);
    nb.matmul(new Float32Array(0), new Float32Array(0), c, 1, 3, 4, 0, false, false, 0, 0, 0, false);
    close(c, want, 0, 'k=0');
  });

  it('activations (relu, leaky relu, sigmoid, tanh) forward and backward against the reference, in place too', () => {
    let seed = 950;
    for (const n of [1, 15, 33, 70000]) {
      const x = randn(n, seed++, 6), g = randn(n, seed++);
      x[0] = 0; // the kinks and saturations are covered by the random range
      for (const kind of ['relu', 'leakyRelu', 'sigmoid', 'tanh'] as const) {
        const slope = kind === 'leakyRelu' ? 0.2 : 0;
        const want = new Float32Array(n), got = view(new Float32Array(n));
        ts.activationForward(kind, x, want, slope);
        nb.activationForward(kind, view(x), got, slope);
        close(got, want, 2e-6, `${kind} forward n${n}`);
        const inPlace = view(x.slice());
        nb.activationForward(kind, inPlace, inPlace, slope);
        close(inPlace, got, 0, `${kind} forward in place n${n}`);
        const dwant = new Float32Array(n), dgot = view(new Float32Array(n));
        ts.activationBackward(kind, want, g, dwant, slope);
        nb.activationBackward(kind, view(want), view(g), dgot, slope);
        close(dgot, dwant, 1e-6, `${kind} backward n${n}`);
      }
    }
  });

  it('channelBiasAdd and channelSums against the reference', () => {
    let seed = 980;
    for (const [B, C, HW] of [[1, 1, 1], [2, 3, 17], [16, 64, 1024], [5, 7, 33]]) {
      const y0 = randn(B * C * HW, seed++), bias = randn(C, seed++);
      const want = y0.slice(), got = view(y0.slice());
      ts.channelBiasAdd(want, bias, B, C, HW);
      nb.channelBiasAdd(got, view(bias), B, C, HW);
      close(got, want, 1e-6, `channelBiasAdd ${B}x${C}x${HW}`);
      const swant = new Float32Array(C), sgot = view(new Float32Array(C).fill(7)); // set, not accumulated
      ts.channelSums(y0, swant, B, C, HW);
      nb.channelSums(view(y0), sgot, B, C, HW);
      close(sgot, swant, 1e-5, `channelSums ${B}x${C}x${HW}`);
    }
  });

  it('streamSum against the reference: lengths, odd offsets, element types, threaded sizes', () => {
    // The reference on hand-computed cases: little-endian words, wrap-around, a zero-padded tail.
    expect(ts.streamSum(Uint8Array.of(1, 0, 0, 0, 2, 1, 0, 0, 5))).toBe(1 + 258 + 5);
    expect(ts.streamSum(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0))).toBe(1);
    expect(ts.streamSum(new Uint8Array(0))).toBe(0);
    const r = rng(4242);
    const bytes = Uint8Array.from({ length: (3 << 20) + 77 }, () => Math.floor(r() * 256));
    for (const n of [0, 1, 3, 5, 63, 64, 65, 255, 256, 257, 4099, (1 << 20) + 13, (3 << 20) + 7]) {
      for (const off of [0, 1, 3, 4]) {
        const v = bytes.subarray(off, off + n);
        expect(nb.streamSum(v), `${n} bytes at offset ${off}`).toBe(ts.streamSum(v));
      }
    }
    const f = randn(100003, 991), h = new Uint16Array(f.buffer, 4, 20001), i8 = new Int8Array(f.buffer, 3, 99999);
    for (const v of [f, h, i8]) expect(nb.streamSum(v), v.constructor.name).toBe(ts.streamSum(v));
  });

  it('attentionDecode against the reference: cache append, padding mask, head sizes', () => {
    let seed = 900;
    for (const [B, H, D, cap, L] of [[1, 1, 4, 1, 0], [2, 3, 8, 10, 6], [1, 12, 64, 160, 143], [3, 2, 20, 33, 31]]) {
      for (const masked of [false, true]) {
        const qkv = randn(B * 3 * H * D, seed++);
        const k0 = randn(B * H * cap * D, seed++), v0 = randn(B * H * cap * D, seed++);
        const mask = masked ? Uint8Array.from({ length: B * cap }, (_, i) => (i % cap) % 3 === 1 ? 0 : 1) : null;
        const [kt, vt, kn, vn] = [k0.slice(), v0.slice(), view(k0.slice()), view(v0.slice())];
        const want = new Float32Array(B * H * D), got = view(new Float32Array(B * H * D));
        ts.attentionDecode(qkv, kt, vt, want, mask, B, H, D, cap, L, 0.125);
        nb.attentionDecode(view(qkv), kn, vn, got, mask, B, H, D, cap, L, 0.125);
        const what = `B${B} H${H} D${D} L${L}${masked ? ' masked' : ''}`;
        close(got, want, 1e-4, what);
        close(kn, kt, 0, `${what}: k appended`);
        close(vn, vt, 0, `${what}: v appended`);
      }
    }
    expect(() => nb.attentionDecode(new Float32Array(6), new Float32Array(4), new Float32Array(4), new Float32Array(2), null, 1, 1, 2, 2, 2, 1))
      .toThrow(/attentionDecode: length 2 leaves no room in a cache of capacity 2/);
  });

  it('linearF32, linearBf16 and linearInt8 against the reference on the same quantized weights', () => {
    let seed = 100;
    // m 2..8 runs in K-blocks of 8 KiB of weights (256 fp32, 512 bf16, 1024 int8 columns):
    // k = 2500 spans several with a partial last one in every format.
    for (const m of [1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 40, 64, 65]) {
      for (const [n, k] of [[1, 1], [7, 13], [64, 64], [130, 100], [300, 768], [20, 2500]]) {
        for (const withBias of [false, true]) {
          const x = randn(m * k, seed++);
          const wb = f32ToBf16(randn(n * k, seed++, 0.5));
          const wi = new Int8Array(n * k);
          const r = rng(seed++);
          for (let i = 0; i < wi.length; i++) wi[i] = Math.floor(r() * 255) - 127;
          const scales = randn(n, seed++, 0.01).map(Math.abs);
          const bias = withBias ? randn(n, seed++) : null;
          const want = new Float32Array(m * n), got = view(new Float32Array(m * n));
          const wbp = toPanels(wb, n, k), wip = toPanels(wi, n, k);
          // The avx512bf16 level runs M > 64 on vdpbf16ps, x rounded to bf16: the reference rounds x too.
          const xb = nb.isa() === 'avx512bf16' && m > 64 ? bf16ToF32(f32ToBf16(x)) : x;
          ts.linearBf16(xb, wbp, bias, want, m, n, k);
          nb.linearBf16(view(x), wbp, bias, got, m, n, k);
          close(got, want, 1e-4, `linearBf16 m${m} n${n} k${k}`);
          ts.linearInt8(x, wip, scales, bias, want, m, n, k);
          nb.linearInt8(view(x), wip, view(scales), bias, got, m, n, k);
          close(got, want, 1e-4, `linearInt8 m${m} n${n} k${k}`);
          const wf = randn(n * k, seed++, 0.5), wfp = toPanels(wf, n, k);
          ts.linearF32(x, wfp, bias, want, m, n, k);
          nb.linearF32(view(x), wfp, bias, got, m, n, k);
          close(got, want, 1e-4, `linearF32 m${m} n${n} k${k}`);
        }
      }
    }
  });

  for (const [name, g] of convGeoms) {
    it(`conv2d forward / backward input / backward weight: ${name}`, () => {
      const xs = g.batch * g.cIn * g.hIn * g.wIn, ws = g.cOut * g.cIn * g.kH * g.kW, ys = g.batch * g.cOut * g.hOut * g.wOut;
      const x = randn(xs, 11), w = randn(ws, 12, 0.2), bias = randn(g.cOut, 13), dy = randn(ys, 14);
      for (const b of [null, bias]) {
        const want = new Float32Array(ys), got = view(new Float32Array(ys).fill(7));
        ts.conv2dForward(x, w, b, want, g);
        nb.conv2dForward(view(x), view(w), b, got, g);
        close(got, want, 1e-4, `conv fwd ${name} bias ${b !== null}`);
      }
      const wantDx = new Float32Array(xs), gotDx = view(new Float32Array(xs).fill(7));
      ts.conv2dBackwardInput(dy, w, wantDx, g);
      nb.conv2dBackwardInput(view(dy), view(w), gotDx, g);
      close(gotDx, wantDx, 1e-4, `conv bwd input ${name}`);
      for (const accumulate of [false, true]) {
        const dw0 = randn(ws, 15);
        const wantDw = dw0.slice(), gotDw = view(dw0);
        ts.conv2dBackwardWeight(x, dy, wantDw, g, accumulate);
        nb.conv2dBackwardWeight(view(x), view(dy), gotDw, g, accumulate);
        close(gotDw, wantDw, 1e-4, `conv bwd weight ${name} acc ${accumulate}`);
      }
    });
  }

  it('softmax forward (incl. -Infinity masks, fully masked rows, in place) and backward', () => {
    let seed = 200;
    for (const rows of [1, 7, 300]) {
      for (const cols of [1, 5, 16, 33, 1000]) {
        const x = randn(rows * cols, seed++, 3);
        for (let i = 0; i < x.length; i += 7) x[i] = -Infinity;
        if (rows > 1) x.fill(-Infinity, cols, 2 * cols);
        const want = new Float32Array(x.length), got = view(new Float32Array(x.length));
        ts.softmaxForward(x, want, rows, cols);
        nb.softmaxForward(view(x), got, rows, cols);
        close(got, want, 1e-5, `softmax fwd ${rows}x${cols}`);
        const inPlace = x.slice();
        nb.softmaxForward(inPlace, inPlace, rows, cols);
        close(inPlace, want, 1e-5, `softmax fwd in place ${rows}x${cols}`);
        const dy = randn(x.length, seed++);
        const wantDx = new Float32Array(x.length), gotDx = view(new Float32Array(x.length));
        ts.softmaxBackward(want, dy, wantDx, rows, cols);
        nb.softmaxBackward(view(want), view(dy), gotDx, rows, cols);
        close(gotDx, wantDx, 1e-4, `softmax bwd ${rows}x${cols}`);
      }
    }
  });

  it('layer norm forward and backward, with and without gamma/beta', () => {
    let seed = 300;
    for (const rows of [1, 5, 300]) {
      for (const cols of [1, 7, 16, 768, 1001]) {
        for (const affine of [false, true]) {
          const x = randn(rows * cols, seed++, 2);
          for (let i = 0; i < x.length; i++) x[i] += 3;
          const gamma = affine ? randn(cols, seed++) : null, beta = affine ? randn(cols, seed++) : null;
          const wantY = new Float32Array(x.length), wantM = new Float32Array(rows), wantR = new Float32Array(rows);
          const gotY = view(new Float32Array(x.length)), gotM = view(new Float32Array(rows)), gotR = view(new Float32Array(rows));
          ts.layerNormForward(x, gamma, beta, wantY, wantM, wantR, rows, cols, 1e-5);
          nb.layerNormForward(view(x), gamma, beta, gotY, gotM, gotR, rows, cols, 1e-5);
          close(gotY, wantY, 1e-4, `ln fwd y ${rows}x${cols}`);
          close(gotM, wantM, 1e-5, `ln fwd mean ${rows}x${cols}`);
          close(gotR, wantR, 1e-4, `ln fwd rstd ${rows}x${cols}`);
          const dy = randn(x.length, seed++);
          const dg0 = randn(cols, seed++), db0 = randn(cols, seed++);
          const wantDx = new Float32Array(x.length), wantDg = dg0.slice(), wantDb = db0.slice();
          const gotDx = view(new Float32Array(x.length)), gotDg = view(dg0), gotDb = view(db0);
          ts.layerNormBackward(dy, x, gamma, wantM, wantR, wantDx, affine ? wantDg : null, affine ? wantDb : null, rows, cols);
          nb.layerNormBackward(view(dy), view(x), gamma, wantM, wantR, gotDx, affine ? gotDg : null, affine ? gotDb : null, rows, cols);
          close(gotDx, wantDx, 1e-4, `ln bwd dx ${rows}x${cols}`, 1); // cols=1: ref is exactly 0, ours is fp32 noise
          close(gotDg, wantDg, 1e-4, `ln bwd dgamma ${rows}x${cols}`);
          close(gotDb, wantDb, 1e-4, `ln bwd dbeta ${rows}x${cols}`);
        }
      }
    }
  });

  it('gelu forward and backward (incl. large |x|)', () => {
    for (const n of [1, 15, 16, 1000, 70001]) {
      const x = randn(n, n, 3);
      if (n > 10) { x[0] = 20; x[1] = -20; x[2] = 0; x[3] = 1e-8; x[4] = -9; x[5] = 9; }
      const want = new Float32Array(n), got = view(new Float32Array(n));
      ts.geluForward(x, want);
      nb.geluForward(view(x), got);
      close(got, want, 2e-6, `gelu fwd ${n}`);
      const dy = randn(n, n + 1);
      const wantDx = new Float32Array(n), gotDx = view(new Float32Array(n));
      ts.geluBackward(x, dy, wantDx);
      nb.geluBackward(view(x), view(dy), gotDx);
      close(gotDx, wantDx, 2e-6, `gelu bwd ${n}`);
    }
  });

  it('adam step: Adam and AdamW, with and without weight decay', () => {
    for (const n of [1, 17, 100000]) {
      for (const decoupled of [false, true]) {
        for (const wd of [0, 0.01]) {
          for (const step of [1, 10]) {
            const p = randn(n, n + step, 1), g = randn(n, n + 7), m = randn(n, n + 8, 0.1), v = randn(n, n + 9, 0.1).map((q) => q * q);
            const [p1, m1, v1] = [p.slice(), m.slice(), v.slice()];
            const [p2, m2, v2] = [view(p), view(m), view(v)];
            ts.adamStep(p1, g, m1, v1, 1e-3, 0.9, 0.999, 1e-8, wd, step, decoupled);
            nb.adamStep(p2, view(g), m2, v2, 1e-3, 0.9, 0.999, 1e-8, wd, step, decoupled);
            close(p2, p1, 1e-6, `adam p n${n}`);
            close(m2, m1, 1e-6, `adam m n${n}`);
            close(v2, v1, 1e-6, `adam v n${n}`);
          }
        }
      }
    }
  });
}

describe.skipIf(!native)('native backend', () => {
  it('loads', () => {
    if (!native) throw loadError;
    expect(native.name).toBe('native');
    expect(native.threads).toBeGreaterThanOrEqual(1);
    expect(native.availableIsas()).toContain('scalar');
  });

  it('advises the 2 MiB-aligned middle of a buffer for huge pages, where Linux has THP', () => {
    const thp = (() => { try { return readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'); } catch { return ''; } })();
    const buf = new Uint8Array(9 << 20);
    const advised = native!.adviseHugePages(buf);
    if (/\[(always|madvise)\]/.test(thp)) {
      expect(advised % (2 << 20)).toBe(0);
      expect(advised).toBeGreaterThanOrEqual(6 << 20); // at least 3 whole aligned pages fit in 9 MiB
      expect(advised).toBeLessThanOrEqual(buf.byteLength);
    } else {
      expect(advised).toBe(0);
    }
    expect(native!.adviseHugePages(new Float32Array(4))).toBe(0); // nothing aligned inside
    expect(() => native!.adviseHugePages({} as Float32Array)).toThrow(/adviseHugePages: expected a typed array/);
  });

  it('rejects short arrays and wrong types with a TypeError naming the kernel', () => {
    const nb = native!;
    const a = new Float32Array(6), b = new Float32Array(6), c = new Float32Array(3);
    expect(() => nb.matmul(a, b, c, 1, 2, 2, 3, false, false, 0, 0, 0, false)).toThrow(/matmul: c is too short: expected at least 4 elements, got 3/);
    expect(() => nb.matmul(a.subarray(1), b, new Float32Array(4), 1, 2, 2, 3, false, false, 0, 0, 0, false)).toThrow(TypeError);
    expect(() => nb.matmul(a, b, new Float32Array(8), 2, 2, 2, 3, false, false, 6, 1, 4, false)).toThrow(/matmul: a is too short/);
    expect(() => nb.linearBf16(new Float32Array(4), new Uint16Array(7), null, new Float32Array(2), 1, 2, 4)).toThrow(/linearBf16: w is too short/);
    expect(() => nb.linearInt8(new Float32Array(4), new Int8Array(512), new Float32Array(1), null, new Float32Array(2), 1, 2, 4)).toThrow(/linearInt8: scales is too short/);
    expect(() => nb.geluForward(new Float32Array(5), new Float32Array(4))).toThrow(/geluForward: y is too short/);
    expect(() => nb.softmaxForward(new Float64Array(4) as unknown as Float32Array, new Float32Array(4), 2, 2)).toThrow(/softmaxForward: x must be a Float32Array/);
    const g = geomSym(1, 2, 4, 4, 3, 3, 3, 1, 1);
    expect(() => nb.conv2dForward(new Float32Array(31), new Float32Array(54), null, new Float32Array(48), g)).toThrow(/conv2dForward: x is too short/);
    expect(() => nb.conv2dBackwardWeight(new Float32Array(32), new Float32Array(48), new Float32Array(53), g, false)).toThrow(/conv2dBackwardWeight: dw is too short/);
    expect(() => nb.setIsa('sse9' as NativeIsa)).toThrow();
  });

  it('AIGC_NATIVE_ISA forces a lower ISA level; AIGC_THREADS sets the pool size', () => {
    const file = new URL('../../build/Release/aigc_native.node', import.meta.url).pathname;
    const probe = `const a = require(${JSON.stringify(file)}); console.log(a.getIsa() + ' ' + a.threads())`;
    for (const isa of native!.availableIsas()) {
      const out = execFileSync(process.execPath, ['-e', probe], { env: { ...process.env, AIGC_NATIVE_ISA: isa, AIGC_THREADS: '1' } }).toString().trim();
      expect(out).toBe(`${isa} 1`);
    }
  });

  it('is safe to call from several worker_threads at once', async () => {
    const file = new URL('../../build/Release/aigc_native.node', import.meta.url).pathname;
    const code = `
      const { parentPort } = require('node:worker_threads');
      const a = require(${JSON.stringify(file)});
      const m = 150, n = 200, k = 90;
      const A = new Float32Array(m * k).fill(1), B = new Float32Array(k * n).fill(2), C = new Float32Array(m * n);
      let ok = true;
      for (let i = 0; i < 40; i++) {
        a.matmul(A, B, C, 1, m, n, k, false, true, 0, 0, 0, false);
        ok = ok && C[0] === 180 && C[m * n - 1] === 180;
        a.softmaxForward(C, C, m, n);
        ok = ok && Math.abs(C[0] - 1 / n) < 1e-7;
      }
      parentPort.postMessage(ok);`;
    const runs = [0, 1, 2].map(() => new Promise<boolean>((resolve, reject) => {
      const w = new Worker(code, { eval: true });
      w.once('message', (v: boolean) => { resolve(v); void w.terminate(); });
      w.once('error', reject);
    }));
    // the main thread keeps calling kernels meanwhile
    const x = randn(300 * 300, 9), y = new Float32Array(x.length);
    for (let i = 0; i < 20; i++) native!.matmul(x, x, y, 1, 300, 300, 300, false, false, 0, 0, 0, false);
    expect(await Promise.all(runs)).toEqual([true, true, true]);
  });

  describe('default ISA', () => runSuite('default'));
  for (const isa of native ? native.availableIsas().slice(1) : []) {
    describe(`ISA ${isa}`, () => runSuite(isa));
  }
});
