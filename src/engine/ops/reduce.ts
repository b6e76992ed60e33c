/**
 * Reductions over axes: sum, mean, max (with the argmax kept for backward). A reduction over
 * a set of axes is done one axis at a time in (outer, n, inner) form.
 */
import { makeResult, normAxis, sizeOf, Tensor, type Shape } from '../tensor.js';
import { broadcastIndex } from './elementwise.js';

export interface ReduceOptions {
  /** Keep reduced axes as size 1 (default false). */
  keepDim?: boolean;
}

function axesOf(a: Tensor, axes: number | readonly number[] | undefined, op: string): number[] {
  if (axes === undefined) return [...Array(a.ndim).keys()];
  const list = typeof axes === 'number' ? [axes] : axes;
  return [...new Set(list.map((x) => normAxis(x, a.ndim, op)))].sort((x, y) => x - y);
}

function reducedShape(shape: Shape, axes: number[], keepDim: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepDim) out.push(1);
  });
  return out;
}

/** outer/n/inner decomposition of one axis. */
function split3(shape: Shape, axis: number): [number, number, number] {
  return [sizeOf(shape.slice(0, axis)), shape[axis], sizeOf(shape.slice(axis + 1))];
}

function sumAxis(data: Float32Array, shape: Shape, axis: number): Float32Array {
  const [outer, n, inner] = split3(shape, axis);
  const out = new Float32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    const base = o * n * inner, ob = o * inner;
    for (let k = 0; k < n; k++) {
      const row = base + k * inner;
      for (let i = 0; i < inner; i++) out[ob + i] += data[row + i];
    }
  }
  return out;
}

/** Broadcasts a reduced gradient back over the reduced axes (g read with those axes as size 1). */
function expandOver(g: Float32Array, full: Shape, axes: number[], factor: number): Float32Array {
  const out = new Float32Array(sizeOf(full));
  if (g.length === 1) return out.fill(g[0] * factor);
  const idx = broadcastIndex(full.map((d, i) => (axes.includes(i) ? 1 : d)), full);
  for (let i = 0; i < out.length; i++) out[i] = g[idx[i]] * factor;
  return out;
}

/** Σ over axes, times factor (1 for sum, 1/count for mean); backward spreads g·factor. */
function scaledSum(a: Tensor, ax: number[], keepDim: boolean, factor: number): Tensor {
  let data = a.data;
  const shape: number[] = [...a.shape];
  // Reduce the highest axis first so lower axis indices stay valid.
  for (let i = ax.length - 1; i >= 0; i--) {
    data = sumAxis(data, shape, ax[i]);
    shape[ax[i]] = 1;
  }
  if (ax.length === 0) data = data.slice();
  if (factor !== 1) for (let i = 0; i < data.length; i++) data[i] *= factor;
  return makeResult(data, reducedShape(a.shape, ax, keepDim), [a], (g) => [expandOver(g, a.shape, ax, factor)]);
}

export function sum(a: Tensor, axes?: number | readonly number[], opts: ReduceOptions = {}): Tensor {
  return scaledSum(a, axesOf(a, axes, 'sum'), !!opts.keepDim, 1);
}

export function mean(a: Tensor, axes?: number | readonly number[], opts: ReduceOptions = {}): Tensor {
  const ax = axesOf(a, axes, 'mean');
  return scaledSum(a, ax, !!opts.keepDim, 1 / ax.reduce((n, i) => n * a.shape[i], 1));
}

/** Maximum over one axis; the gradient flows to the (first) arg-max. */
export function max(a: Tensor, axis = -1, opts: ReduceOptions = {}): Tensor {
  const ax = normAxis(axis, a.ndim, 'max');
  const [outer, n, inner] = split3(a.shape, ax);
  const out = new Float32Array(outer * inner);
  const arg = new Int32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = -Infinity, bi = 0;
      for (let k = 0; k < n; k++) {
        const v = a.data[(o * n + k) * inner + i];
        if (v > best || Number.isNaN(v)) {
          best = v;
          bi = k;
          if (Number.isNaN(v)) break;
        }
      }
      out[o * inner + i] = best;
      arg[o * inner + i] = bi;
    }
  }
  return makeResult(out, reducedShape(a.shape, [ax], !!opts.keepDim), [a], (g) => {
    const ga = new Float32Array(a.size);
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) ga[(o * n + arg[o * inner + i]) * inner + i] = g[o * inner + i];
    return [ga];
  });
}
