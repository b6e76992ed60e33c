/**
 * The pure-TypeScript backend: the reference every native kernel is tested against, and the
 * fallback where the addon cannot load. Written for clarity first; loops are ordered so that
 * the innermost one walks memory contiguously, which is most of what makes plain JS fast.
 */
import { bf16BitsToF32 } from '../half.js';
import { sigmoidScalar } from '../math.js';
import { panelRow } from '../panels.js';
import type { ActivationKind, Backend, ConvGeometry } from './types.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;


function matmul(
  a: Float32Array, b: Float32Array, c: Float32Array,
  batch: number, m: number, n: number, k: number,
  transA: boolean, transB: boolean,
  strideA: number, strideB: number, strideC: number,
  accumulate: boolean,
): void {
  const row = new Float32Array(k);
  for (let bi = 0; bi < batch; bi++) {
    const ao = bi * strideA, bo = bi * strideB, co = bi * strideC;
    if (!accumulate) c.fill(0, co, co + m * n);
    for (let i = 0; i < m; i++) {
      // Gather row i of op(A) once: contiguous when !transA, strided otherwise.
      if (transA) for (let p = 0; p < k; p++) row[p] = a[ao + p * m + i];
      else for (let p = 0; p < k; p++) row[p] = a[ao + i * k + p];
      const ci = co + i * n;
      if (transB) {
        // B is N×K: each output is a dot product of two contiguous rows.
        for (let j = 0; j < n; j++) {
          const bj = bo + j * k;
          let s = 0;
          for (let p = 0; p < k; p++) s += row[p] * b[bj + p];
          c[ci + j] += s;
        }
      } else {
        // B is K×N: axpy each of its rows into the output row.
        for (let p = 0; p < k; p++) {
          const ap = row[p];
          if (ap === 0) continue;
          const bp = bo + p * n;
          for (let j = 0; j < n; j++) c[ci + j] += ap * b[bp + j];
        }
      }
    }
  }
}

function attentionDecode(
  qkv: Float32Array, k: Float32Array, v: Float32Array, y: Float32Array, keyMask: Uint8Array | null,
  batch: number, heads: number, headDim: number, capacity: number, length: number, scale: number,
): void {
  const H = heads, D = headDim, C = H * D, n = length + 1;
  const q = new Float32Array(D), p = new Float64Array(n);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < H; h++) {
      const src = b * 3 * C + h * D, kv = (b * H + h) * capacity * D;
      k.set(qkv.subarray(src + C, src + C + D), kv + length * D);
      v.set(qkv.subarray(src + 2 * C, src + 2 * C + D), kv + length * D);
      for (let d = 0; d < D; d++) q[d] = qkv[src + d] * scale;
      let m = -Infinity;
      for (let j = 0; j < n; j++) {
        if (keyMask && j < length && keyMask[b * capacity + j] === 0) { p[j] = -Infinity; continue; }
        let s = 0;
        for (let d = 0; d < D; d++) s += q[d] * k[kv + j * D + d];
        p[j] = s;
        if (s > m) m = s;
      }
      let total = 0;
      for (let j = 0; j < n; j++) { p[j] = Math.exp(p[j] - m); total += p[j]; }
      const yo = b * C + h * D;
      for (let d = 0; d < D; d++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += p[j] * v[kv + j * D + d];
        y[yo + d] = s / total;
      }
    }
  }
}


/**
 * y (M×N) = x · (W · scale)ᵀ + bias for W [N, K] in row panels: each row of W is gathered once,
 * widened to float (bf16 bits need `widen`), and dotted with every row of x.
 */
function panelLinear(
  x: Float32Array, w: Float32Array | Uint16Array | Int8Array, scales: Float32Array | null, bias: Float32Array | null,
  y: Float32Array, m: number, n: number, k: number, widen?: (v: number) => number,
): void {
  const wj = new Float32Array(k);
  for (let j = 0; j < n; j++) {
    panelRow(w, j, k, wj);
    if (widen) for (let p = 0; p < k; p++) wj[p] = widen(wj[p]);
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += x[i * k + p] * wj[p];
      y[i * n + j] = s * (scales ? scales[j] : 1) + (bias ? bias[j] : 0);
    }
  }
}

function linearF32(x: Float32Array, w: Float32Array, bias: Float32Array | null, y: Float32Array, m: number, n: number, k: number): void {
  panelLinear(x, w, null, bias, y, m, n, k);
}

function linearBf16(x: Float32Array, w: Uint16Array, bias: Float32Array | null, y: Float32Array, m: number, n: number, k: number): void {
  panelLinear(x, w, null, bias, y, m, n, k, bf16BitsToF32);
}

function linearInt8(x: Float32Array, w: Int8Array, scales: Float32Array, bias: Float32Array | null, y: Float32Array, m: number, n: number, k: number): void {
  panelLinear(x, w, scales, bias, y, m, n, k);
}

/** im2col for one image: cols[(c*kH+ky)*kW+kx][oy*wOut+ox] = x[c][oy*s-pad+ky][ox*s-pad+kx]. */
function im2col(x: Float32Array, xo: number, cols: Float32Array, g: ConvGeometry): void {
  const { cIn, hIn, wIn, hOut, wOut, kH, kW, strideH, strideW, padTop, padLeft } = g;
  const hw = hOut * wOut;
  for (let c = 0; c < cIn; c++) {
    for (let ky = 0; ky < kH; ky++) {
      for (let kx = 0; kx < kW; kx++) {
        const r = ((c * kH + ky) * kW + kx) * hw;
        for (let oy = 0; oy < hOut; oy++) {
          const iy = oy * strideH - padTop + ky;
          const ro = r + oy * wOut;
          if (iy < 0 || iy >= hIn) { cols.fill(0, ro, ro + wOut); continue; }
          const xrow = xo + (c * hIn + iy) * wIn;
          for (let ox = 0; ox < wOut; ox++) {
            const ix = ox * strideW - padLeft + kx;
            cols[ro + ox] = ix >= 0 && ix < wIn ? x[xrow + ix] : 0;
          }
        }
      }
    }
  }
}

/** The adjoint of im2col: scatter-add columns back into an image (which it sets). */
function col2im(cols: Float32Array, x: Float32Array, xo: number, g: ConvGeometry): void {
  const { cIn, hIn, wIn, hOut, wOut, kH, kW, strideH, strideW, padTop, padLeft } = g;
  const hw = hOut * wOut;
  x.fill(0, xo, xo + cIn * hIn * wIn);
  for (let c = 0; c < cIn; c++) {
    for (let ky = 0; ky < kH; ky++) {
      for (let kx = 0; kx < kW; kx++) {
        const r = ((c * kH + ky) * kW + kx) * hw;
        for (let oy = 0; oy < hOut; oy++) {
          const iy = oy * strideH - padTop + ky;
          if (iy < 0 || iy >= hIn) continue;
          const xrow = xo + (c * hIn + iy) * wIn;
          const ro = r + oy * wOut;
          for (let ox = 0; ox < wOut; ox++) {
            const ix = ox * strideW - padLeft + kx;
            if (ix >= 0 && ix < wIn) x[xrow + ix] += cols[ro + ox];
          }
        }
      }
    }
  }
}

function colsFor(g: ConvGeometry): Float32Array {
  return new Float32Array(g.cIn * g.kH * g.kW * g.hOut * g.wOut);
}

function conv2dForward(x: Float32Array, w: Float32Array, bias: Float32Array | null, y: Float32Array, g: ConvGeometry): void {
  const cols = colsFor(g);
  const K = g.cIn * g.kH * g.kW, hw = g.hOut * g.wOut;
  for (let b = 0; b < g.batch; b++) {
    im2col(x, b * g.cIn * g.hIn * g.wIn, cols, g);
    const yb = y.subarray(b * g.cOut * hw, (b + 1) * g.cOut * hw);
    // (cOut × K) · (K × hw)
    matmul(w, cols, yb, 1, g.cOut, hw, K, false, false, 0, 0, 0, false);
    if (bias) for (let o = 0; o < g.cOut; o++) for (let p = 0; p < hw; p++) yb[o * hw + p] += bias[o];
  }
}

function conv2dBackwardInput(dy: Float32Array, w: Float32Array, dx: Float32Array, g: ConvGeometry): void {
  const cols = colsFor(g);
  const K = g.cIn * g.kH * g.kW, hw = g.hOut * g.wOut;
  for (let b = 0; b < g.batch; b++) {
    // cols (K × hw) = Wᵀ (K × cOut) · dy (cOut × hw)
    matmul(w, dy.subarray(b * g.cOut * hw), cols, 1, K, hw, g.cOut, true, false, 0, 0, 0, false);
    col2im(cols, dx, b * g.cIn * g.hIn * g.wIn, g);
  }
}

function conv2dBackwardWeight(x: Float32Array, dy: Float32Array, dw: Float32Array, g: ConvGeometry, accumulate: boolean): void {
  const cols = colsFor(g);
  const K = g.cIn * g.kH * g.kW, hw = g.hOut * g.wOut;
  if (!accumulate) dw.fill(0, 0, g.cOut * K);
  for (let b = 0; b < g.batch; b++) {
    im2col(x, b * g.cIn * g.hIn * g.wIn, cols, g);
    // dW (cOut × K) += dy (cOut × hw) · colsᵀ (hw × K)
    matmul(dy.subarray(b * g.cOut * hw), cols, dw, 1, g.cOut, K, hw, false, true, 0, 0, 0, true);
  }
}

function softmaxForward(x: Float32Array, y: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (x[o + j] > max) max = x[o + j];
    if (max === -Infinity) { y.fill(0, o, o + cols); continue; } // fully masked row
    let sum = 0;
    for (let j = 0; j < cols; j++) { const e = Math.exp(x[o + j] - max); y[o + j] = e; sum += e; }
    const inv = 1 / sum;
    for (let j = 0; j < cols; j++) y[o + j] *= inv;
  }
}

function softmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += dy[o + j] * y[o + j];
    for (let j = 0; j < cols; j++) dx[o + j] = y[o + j] * (dy[o + j] - dot);
  }
}

function layerNormForward(
  x: Float32Array, gamma: Float32Array | null, beta: Float32Array | null, y: Float32Array,
  mean: Float32Array, rstd: Float32Array, rows: number, cols: number, eps: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let s = 0;
    for (let j = 0; j < cols; j++) s += x[o + j];
    const mu = s / cols;
    let v = 0;
    for (let j = 0; j < cols; j++) { const d = x[o + j] - mu; v += d * d; }
    const rs = 1 / Math.sqrt(v / cols + eps);
    mean[r] = mu; rstd[r] = rs;
    for (let j = 0; j < cols; j++) {
      const n = (x[o + j] - mu) * rs;
      y[o + j] = n * (gamma ? gamma[j] : 1) + (beta ? beta[j] : 0);
    }
  }
}

function layerNormBackward(
  dy: Float32Array, x: Float32Array, gamma: Float32Array | null, mean: Float32Array, rstd: Float32Array,
  dx: Float32Array, dgamma: Float32Array | null, dbeta: Float32Array | null, rows: number, cols: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols, mu = mean[r], rs = rstd[r];
    // dnorm = dy·gamma; dx = rs·(dnorm − mean(dnorm) − n·mean(dnorm·n))
    let sumD = 0, sumDN = 0;
    for (let j = 0; j < cols; j++) {
      const n = (x[o + j] - mu) * rs;
      const d = dy[o + j] * (gamma ? gamma[j] : 1);
      sumD += d; sumDN += d * n;
      if (dgamma) dgamma[j] += dy[o + j] * n;
      if (dbeta) dbeta[j] += dy[o + j];
    }
    const mD = sumD / cols, mDN = sumDN / cols;
    for (let j = 0; j < cols; j++) {
      const n = (x[o + j] - mu) * rs;
      const d = dy[o + j] * (gamma ? gamma[j] : 1);
      dx[o + j] = rs * (d - mD - n * mDN);
    }
  }
}

function activationForward(kind: ActivationKind, x: Float32Array, y: Float32Array, slope: number): void {
  const n = x.length;
  switch (kind) {
    // Branch-free: activation signs are random, so branches mispredict ((v ± |v|) / 2 is exact).
    case 'relu': for (let i = 0; i < n; i++) { const v = x[i]; y[i] = (v + Math.abs(v)) * 0.5; } break;
    case 'leakyRelu': for (let i = 0; i < n; i++) { const v = x[i], m = Math.abs(v); y[i] = (v + m) * 0.5 + slope * ((v - m) * 0.5); } break;
    case 'sigmoid': for (let i = 0; i < n; i++) y[i] = sigmoidScalar(x[i]); break;
    case 'tanh': for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i]); break;
  }
}

function activationBackward(kind: ActivationKind, y: Float32Array, g: Float32Array, dx: Float32Array, slope: number): void {
  const n = y.length;
  switch (kind) {
    case 'relu': for (let i = 0; i < n; i++) dx[i] = g[i] * +(y[i] > 0); break;
    case 'leakyRelu': for (let i = 0; i < n; i++) { const m = +(y[i] > 0); dx[i] = g[i] * (m + slope * (1 - m)); } break;
    case 'sigmoid': for (let i = 0; i < n; i++) { const s = y[i]; dx[i] = g[i] * s * (1 - s); } break;
    case 'tanh': for (let i = 0; i < n; i++) { const t = y[i]; dx[i] = g[i] * (1 - t * t); } break;
  }
}

function channelBiasAdd(y: Float32Array, bias: Float32Array, batch: number, channels: number, hw: number): void {
  for (let n = 0; n < batch; n++) for (let c = 0; c < channels; c++) {
    const o = (n * channels + c) * hw, v = bias[c];
    for (let i = 0; i < hw; i++) y[o + i] += v;
  }
}

function channelSums(dy: Float32Array, out: Float32Array, batch: number, channels: number, hw: number): void {
  out.fill(0, 0, channels);
  for (let n = 0; n < batch; n++) for (let c = 0; c < channels; c++) {
    const o = (n * channels + c) * hw;
    let s = 0;
    for (let i = 0; i < hw; i++) s += dy[o + i];
    out[c] += s;
  }
}

function geluForward(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    y[i] = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + GELU_C * v * v * v)));
  }
}

function geluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    const u = SQRT_2_OVER_PI * (v + GELU_C * v * v * v);
    const t = Math.tanh(u);
    const du = SQRT_2_OVER_PI * (1 + 3 * GELU_C * v * v);
    dx[i] = dy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * du);
  }
}

function adamStep(
  p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array,
  lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number, decoupled: boolean,
): void {
  const bc1 = 1 - Math.pow(beta1, step);
  const bc2 = 1 - Math.pow(beta2, step);
  const stepSize = lr / bc1;
  const bc2Sqrt = Math.sqrt(bc2);
  for (let i = 0; i < p.length; i++) {
    let gi = g[i];
    if (weightDecay !== 0) {
      if (decoupled) p[i] -= lr * weightDecay * p[i];
      else gi += weightDecay * p[i];
    }
    m[i] = beta1 * m[i] + (1 - beta1) * gi;
    v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
    // PyTorch: p -= lr/bc1 · m / (sqrt(v)/sqrt(bc2) + eps)
    p[i] -= stepSize * m[i] / (Math.sqrt(v[i]) / bc2Sqrt + eps);
  }
}

function streamSum(view: ArrayBufferView): number {
  const dv = new DataView(view.buffer, view.byteOffset, view.byteLength);
  const whole = view.byteLength & ~3;
  let s = 0;
  for (let i = 0; i < whole; i += 4) s = (s + dv.getUint32(i, true)) >>> 0;
  let tail = 0; // the partial last word, zero-padded
  for (let i = view.byteLength - 1; i >= whole; i--) tail = tail * 256 + dv.getUint8(i);
  return (s + tail) >>> 0;
}

export const tsBackend: Backend = {
  name: 'ts',
  threads: 1,
  matmul,
  linearF32,
  linearBf16,
  linearInt8,
  attentionDecode,
  conv2dForward,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  softmaxForward,
  softmaxBackward,
  layerNormForward,
  layerNormBackward,
  activationForward,
  activationBackward,
  channelBiasAdd,
  channelSums,
  geluForward,
  geluBackward,
  adamStep,
  streamSum,
};
