/**
 * Elementwise ops: broadcasting binary arithmetic and unary activations, each with its
 * backward beside it. Broadcasting follows NumPy/PyTorch: shapes align on the right, and a
 * dimension of 1 (or a missing one) stretches.
 */
import { ShapeError } from '../../errors.js';
import { backend } from '../backend/index.js';
import type { ActivationKind } from '../backend/types.js';
import { makeResult, shapeStr, sizeOf, Tensor, type Shape } from '../tensor.js';

// ---- broadcasting ------------------------------------------------------------------------

export function broadcastShapes(a: Shape, b: Shape, op: string): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${op}: shapes ${shapeStr(a)} and ${shapeStr(b)} cannot be broadcast together`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides of `shape` read as if broadcast to `out` (0 where it stretches). */
function broadcastStrides(shape: Shape, out: Shape): number[] {
  const strides = new Array(out.length).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const oi = out.length - shape.length + i;
    strides[oi] = shape[i] === 1 ? 0 : s;
    s *= shape[i];
  }
  return strides;
}

/** For each output element, the flat index into an input broadcast to `out`. */
export function broadcastIndex(shape: Shape, out: Shape): Int32Array {
  const n = sizeOf(out);
  const strides = broadcastStrides(shape, out);
  const idx = new Int32Array(n);
  const counter = new Array(out.length).fill(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    idx[i] = off;
    for (let d = out.length - 1; d >= 0; d--) {
      counter[d]++;
      off += strides[d];
      if (counter[d] < out[d]) break;
      off -= strides[d] * out[d];
      counter[d] = 0;
    }
  }
  return idx;
}

/** Sums a gradient of shape `out` down to the shape an input had before broadcasting. */
export function sumToShape(g: Float32Array, out: Shape, shape: Shape): Float32Array {
  const n = sizeOf(shape);
  if (n === g.length) return g;
  const r = new Float32Array(n);
  if (n === 1) {
    let s = 0;
    for (let i = 0; i < g.length; i++) s += g[i];
    r[0] = s;
    return r;
  }
  if (isSuffix(shape, out)) {
    for (let i = 0; i < g.length; i += n) for (let j = 0; j < n; j++) r[j] += g[i + j];
    return r;
  }
  const idx = broadcastIndex(shape, out);
  for (let i = 0; i < g.length; i++) r[idx[i]] += g[i];
  return r;
}

/** True when `shape` (without leading 1s) equals the trailing dims of `out`: a row broadcast. */
function isSuffix(shape: Shape, out: Shape): boolean {
  let s = 0;
  while (s < shape.length && shape[s] === 1) s++;
  const k = shape.length - s;
  for (let i = 0; i < k; i++) if (shape[s + i] !== out[out.length - k + i]) return false;
  return true;
}

/** Applies f over a and b broadcast together, with fast paths for equal shapes, a scalar and a row. */
function broadcastApply(a: Tensor, b: Tensor, op: string, f: (x: number, y: number) => number): [Float32Array, number[]] {
  const shape = broadcastShapes(a.shape, b.shape, op);
  const n = sizeOf(shape);
  const out = new Float32Array(n);
  const ad = a.data, bd = b.data;
  if (ad.length === n && bd.length === n) {
    for (let i = 0; i < n; i++) out[i] = f(ad[i], bd[i]);
  } else if (bd.length === 1 && ad.length === n) {
    const y = bd[0];
    for (let i = 0; i < n; i++) out[i] = f(ad[i], y);
  } else if (ad.length === 1 && bd.length === n) {
    const x = ad[0];
    for (let i = 0; i < n; i++) out[i] = f(x, bd[i]);
  } else if (ad.length === n && isSuffix(b.shape, shape)) {
    const m = bd.length;
    for (let i = 0; i < n; i += m) for (let j = 0; j < m; j++) out[i + j] = f(ad[i + j], bd[j]);
  } else {
    const ia = broadcastIndex(a.shape, shape), ib = broadcastIndex(b.shape, shape);
    for (let i = 0; i < n; i++) out[i] = f(ad[ia[i]], bd[ib[i]]);
  }
  return [out, shape];
}

/** Accepts a number wherever a tensor operand is expected. */
function asTensor(x: Tensor | number): Tensor {
  return typeof x === 'number' ? Tensor.scalar(x) : x;
}

// ---- binary arithmetic ---------------------------------------------------------------------

export function add(a: Tensor | number, b: Tensor | number): Tensor {
  const A = asTensor(a), B = asTensor(b);
  const [out, shape] = broadcastApply(A, B, 'add', (x, y) => x + y);
  return makeResult(out, shape, [A, B], (g) => [
    A.requiresGrad ? sumToShape(g, shape, A.shape) : null,
    B.requiresGrad ? sumToShape(g, shape, B.shape) : null,
  ]);
}

export function sub(a: Tensor | number, b: Tensor | number): Tensor {
  const A = asTensor(a), B = asTensor(b);
  const [out, shape] = broadcastApply(A, B, 'sub', (x, y) => x - y);
  return makeResult(out, shape, [A, B], (g) => [
    A.requiresGrad ? sumToShape(g, shape, A.shape) : null,
    B.requiresGrad ? negate(sumToShape(g, shape, B.shape)) : null,
  ]);
}

export function mul(a: Tensor | number, b: Tensor | number): Tensor {
  const A = asTensor(a), B = asTensor(b);
  const [out, shape] = broadcastApply(A, B, 'mul', (x, y) => x * y);
  return makeResult(out, shape, [A, B], (g) => [
    A.requiresGrad ? sumToShape(broadcastApplyRaw(g, shape, B, (gi, y) => gi * y), shape, A.shape) : null,
    B.requiresGrad ? sumToShape(broadcastApplyRaw(g, shape, A, (gi, x) => gi * x), shape, B.shape) : null,
  ]);
}

export function div(a: Tensor | number, b: Tensor | number): Tensor {
  const A = asTensor(a), B = asTensor(b);
  const [out, shape] = broadcastApply(A, B, 'div', (x, y) => x / y);
  return makeResult(out, shape, [A, B], (g) => {
    const gb = B.requiresGrad ? new Float32Array(g.length) : null;
    if (gb) {
      // d(a/b)/db = −(a/b)/b = −out/b
      const q = broadcastApplyRaw(out, shape, B, (o, y) => o / y);
      for (let i = 0; i < g.length; i++) gb[i] = -g[i] * q[i];
    }
    return [
      A.requiresGrad ? sumToShape(broadcastApplyRaw(g, shape, B, (gi, y) => gi / y), shape, A.shape) : null,
      gb ? sumToShape(gb, shape, B.shape) : null,
    ];
  });
}

/** f(g[i], t broadcast to `shape`[i]) for a raw array g of the full shape. */
function broadcastApplyRaw(g: Float32Array, shape: Shape, t: Tensor, f: (x: number, y: number) => number): Float32Array {
  return broadcastApply(new Tensor(g, shape), t, 'backward', f)[0];
}

function negate(g: Float32Array): Float32Array {
  const r = new Float32Array(g.length);
  for (let i = 0; i < g.length; i++) r[i] = -g[i];
  return r;
}

export function neg(a: Tensor): Tensor {
  return unary(a, (x) => -x, (g) => negate(g));
}

/** a · s + t for scalars s, t (one pass, one node). */
export function affine(a: Tensor, s: number, t = 0): Tensor {
  return unary(a, (x) => x * s + t, (g) => scaleArray(g, s));
}

export function scale(a: Tensor, s: number): Tensor {
  return affine(a, s, 0);
}

function scaleArray(g: Float32Array, s: number): Float32Array {
  const r = new Float32Array(g.length);
  for (let i = 0; i < g.length; i++) r[i] = g[i] * s;
  return r;
}

// ---- unary -------------------------------------------------------------------------------

/** A unary op from its forward f and a backward that gets (gradOut, input, output). */
function unary(
  a: Tensor,
  f: (x: number) => number,
  back: (g: Float32Array, x: Float32Array, y: Float32Array) => Float32Array,
): Tensor {
  const x = a.data;
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = f(x[i]);
  return makeResult(y, a.shape, [a], (g) => [back(g, x, y)]);
}

function mapGrad(g: Float32Array, x: Float32Array, y: Float32Array, d: (gi: number, xi: number, yi: number) => number): Float32Array {
  const r = new Float32Array(g.length);
  for (let i = 0; i < g.length; i++) r[i] = d(g[i], x[i], y[i]);
  return r;
}

export const exp = (a: Tensor) => unary(a, Math.exp, (g, x, y) => mapGrad(g, x, y, (gi, _, yi) => gi * yi));
export const log = (a: Tensor) => unary(a, Math.log, (g, x, y) => mapGrad(g, x, y, (gi, xi) => gi / xi));
export const sqrt = (a: Tensor) => unary(a, Math.sqrt, (g, x, y) => mapGrad(g, x, y, (gi, _, yi) => (0.5 * gi) / yi));
export const square = (a: Tensor) => unary(a, (v) => v * v, (g, x, y) => mapGrad(g, x, y, (gi, xi) => 2 * gi * xi));
export interface InPlaceOption {
  /**
   * Overwrite the input's storage instead of allocating (default false). Only for inputs that
   * nothing reads afterwards, such as the output of a linear, conv or batch-norm op (their
   * backward passes read their inputs, not their outputs).
   */
  inPlace?: boolean;
}

// The activations run on the backend's pointwise kernels: in JS their loops cost ~2 ns an
// element, a sixth of a DCGAN training step. Each backward derives the gradient from the output.

function activation(kind: ActivationKind, a: Tensor, slope: number, inPlace: boolean): Tensor {
  const be = backend(), n = a.size;
  const y = inPlace ? a.data : new Float32Array(n);
  be.activationForward(kind, a.data, y, slope);
  return makeResult(y, a.shape, [a], (g) => {
    const dx = new Float32Array(n);
    be.activationBackward(kind, y, g, dx, slope);
    return [dx];
  });
}

/** ReLU. In place is safe: the gradient is masked by the output (y > 0 exactly where x > 0). */
export function relu(a: Tensor, opts: InPlaceOption = {}): Tensor {
  return activation('relu', a, 0, opts.inPlace ?? false);
}

/** LeakyReLU, max(v, 0) + slope·min(v, 0); slope must be positive (the output's sign masks the gradient). */
export function leakyRelu(a: Tensor, slope = 0.01, opts: InPlaceOption = {}): Tensor {
  if (!(slope > 0)) throw new ShapeError(`leakyRelu: slope must be positive, got ${slope}`, { code: 'bad_input' });
  return activation('leakyRelu', a, slope, opts.inPlace ?? false);
}

export function sigmoid(a: Tensor): Tensor {
  return activation('sigmoid', a, 0, false);
}

export function tanh(a: Tensor): Tensor {
  return activation('tanh', a, 0, false);
}

/** x^p for a constant exponent. */
export function pow(a: Tensor, p: number): Tensor {
  return unary(a, (v) => Math.pow(v, p), (g, x, y) => mapGrad(g, x, y, (gi, xi) => gi * p * Math.pow(xi, p - 1)));
}

export function clamp(a: Tensor, lo: number, hi: number): Tensor {
  return unary(a, (v) => (v < lo ? lo : v > hi ? hi : v), (g, x, y) => mapGrad(g, x, y, (gi, xi) => (xi >= lo && xi <= hi ? gi : 0)));
}

/** GELU, tanh approximation (GPT-2), on the backend's fused kernel. */
export function gelu(a: Tensor): Tensor {
  const y = new Float32Array(a.size);
  backend().geluForward(a.data, y);
  return makeResult(y, a.shape, [a], (g) => {
    const dx = new Float32Array(g.length);
    backend().geluBackward(a.data, g, dx);
    return [dx];
  });
}
