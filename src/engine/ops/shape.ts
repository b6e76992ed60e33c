/**
 * Shape ops: reshape (a view on the same storage), permute/transpose, slice, concat, split
 * and embedding gather. A slice along the first axis is a view too; other layout changes copy,
 * which keeps every tensor dense and every kernel simple.
 */
import { ShapeError } from '../../errors.js';
import { makeResult, normAxis, shapeStr, sizeOf, Tensor, type Shape } from '../tensor.js';

/** Same data, new shape; one dimension may be -1 (inferred). Shares storage. */
export function reshape(a: Tensor, shape: readonly number[]): Tensor {
  const s = [...shape];
  const infer = s.indexOf(-1);
  if (infer >= 0) {
    const rest = sizeOf(s.filter((_, i) => i !== infer));
    if (rest === 0 || a.size % rest !== 0) throw new ShapeError(`reshape: cannot reshape ${shapeStr(a.shape)} to ${shapeStr(shape)}`);
    s[infer] = a.size / rest;
  }
  if (sizeOf(s) !== a.size) throw new ShapeError(`reshape: cannot reshape ${shapeStr(a.shape)} (${a.size} elements) to ${shapeStr(shape)}`);
  return makeResult(a.data, s, [a], (g) => [g]);
}

export function flatten(a: Tensor, startAxis = 1): Tensor {
  const s = normAxis(startAxis, a.ndim, 'flatten');
  return reshape(a, [...a.shape.slice(0, s), -1]);
}

/** Reorders axes (a copy). */
export function permute(a: Tensor, axes: readonly number[]): Tensor {
  const nd = a.ndim;
  if (axes.length !== nd) throw new ShapeError(`permute: ${axes.length} axes given for a tensor of shape ${shapeStr(a.shape)}`);
  const perm = axes.map((x) => normAxis(x, nd, 'permute'));
  if (new Set(perm).size !== nd) throw new ShapeError(`permute: axes [${axes.join(', ')}] are not a permutation`);
  const outShape = perm.map((p) => a.shape[p]);
  const out = permuteData(a.data, a.shape, perm);
  const inverse = new Array(nd);
  perm.forEach((p, i) => (inverse[p] = i));
  return makeResult(out, outShape, [a], (g) => [permuteData(g, outShape, inverse)]);
}

export function transpose(a: Tensor, axis0 = -2, axis1 = -1): Tensor {
  const perm = [...Array(a.ndim).keys()];
  const i = normAxis(axis0, a.ndim, 'transpose'), j = normAxis(axis1, a.ndim, 'transpose');
  [perm[i], perm[j]] = [perm[j], perm[i]];
  return permute(a, perm);
}

function permuteData(data: Float32Array, shape: Shape, perm: number[]): Float32Array {
  const nd = shape.length;
  const inStrides = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]);
  const src = perm.map((p) => inStrides[p]);
  const out = new Float32Array(data.length);
  if (nd === 0 || data.length === 0) {
    out.set(data);
    return out;
  }
  // Walk output in order; the last axis is the inner loop.
  const last = nd - 1, innerN = outShape[last], innerS = src[last];
  const counter = new Array(nd).fill(0);
  let off = 0;
  for (let o = 0; o < out.length; o += innerN) {
    for (let j = 0, p = off; j < innerN; j++, p += innerS) out[o + j] = data[p];
    for (let d = last - 1; d >= 0; d--) {
      counter[d]++;
      off += src[d];
      if (counter[d] < outShape[d]) break;
      off -= src[d] * outShape[d];
      counter[d] = 0;
    }
  }
  return out;
}

export function stridesOf(shape: Shape): number[] {
  const s = new Array(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Elements [start, end) along an axis. Along axis 0 the result shares storage. */
export function slice(a: Tensor, axis: number, start: number, end: number): Tensor {
  const ax = normAxis(axis, a.ndim, 'slice');
  const n = a.shape[ax];
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= n)) {
    throw new ShapeError(`slice: range [${start}, ${end}) out of bounds for axis ${axis} of size ${n} (shape ${shapeStr(a.shape)})`);
  }
  const outer = sizeOf(a.shape.slice(0, ax));
  const inner = sizeOf(a.shape.slice(ax + 1));
  const outShape = [...a.shape];
  outShape[ax] = end - start;
  const len = (end - start) * inner;
  let out: Float32Array;
  if (outer === 1) out = a.data.subarray(start * inner, end * inner);
  else {
    out = new Float32Array(outer * len);
    for (let o = 0; o < outer; o++) out.set(a.data.subarray(o * n * inner + start * inner, o * n * inner + end * inner), o * len);
  }
  return makeResult(out, outShape, [a], (g) => {
    const ga = new Float32Array(a.size);
    for (let o = 0; o < outer; o++) ga.set(g.subarray(o * len, (o + 1) * len), o * n * inner + start * inner);
    return [ga];
  });
}

/** Joins tensors along an axis; all other dims must agree. */
export function concat(ts: readonly Tensor[], axis = 0): Tensor {
  if (ts.length === 0) throw new ShapeError('concat: no tensors given');
  const ref = ts[0];
  const ax = normAxis(axis, ref.ndim, 'concat');
  for (const t of ts) {
    if (t.ndim !== ref.ndim || t.shape.some((d, i) => i !== ax && d !== ref.shape[i])) {
      throw new ShapeError(`concat: shapes ${shapeStr(ref.shape)} and ${shapeStr(t.shape)} differ outside axis ${axis}`);
    }
  }
  const outer = sizeOf(ref.shape.slice(0, ax));
  const inner = sizeOf(ref.shape.slice(ax + 1));
  const sizes = ts.map((t) => t.shape[ax]);
  const total = sizes.reduce((x, y) => x + y, 0);
  const outShape = [...ref.shape];
  outShape[ax] = total;
  const out = new Float32Array(outer * total * inner);
  let pos = 0;
  for (const t of ts) {
    const w = t.shape[ax] * inner;
    for (let o = 0; o < outer; o++) out.set(t.data.subarray(o * w, (o + 1) * w), o * total * inner + pos);
    pos += w;
  }
  return makeResult(out, outShape, [...ts], (g) => {
    let p = 0;
    return ts.map((t) => {
      const w = t.shape[ax] * inner;
      const gt = new Float32Array(t.size);
      for (let o = 0; o < outer; o++) gt.set(g.subarray(o * total * inner + p, o * total * inner + p + w), o * w);
      p += w;
      return gt;
    });
  });
}

/** Splits along an axis into pieces of the given sizes (or equal pieces of one size). */
export function split(a: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  const ax = normAxis(axis, a.ndim, 'split');
  const n = a.shape[ax];
  let parts: number[];
  if (typeof sizes === 'number') {
    if (sizes <= 0) throw new ShapeError(`split: piece size must be positive, got ${sizes}`);
    parts = [];
    for (let s = 0; s < n; s += sizes) parts.push(Math.min(sizes, n - s));
  } else parts = [...sizes];
  if (parts.reduce((x, y) => x + y, 0) !== n) {
    throw new ShapeError(`split: sizes [${parts.join(', ')}] do not add up to ${n} (axis ${axis} of ${shapeStr(a.shape)})`);
  }
  const out: Tensor[] = [];
  let s = 0;
  for (const p of parts) {
    out.push(slice(a, ax, s, s + p));
    s += p;
  }
  return out;
}

/**
 * Gathers rows of `weight` (V, C) for integer ids; the result has shape [...idsShape, C].
 * Backward scatter-adds into the rows that were read.
 */
export function embedding(weight: Tensor, ids: ArrayLike<number>, idsShape: readonly number[] = [ids.length]): Tensor {
  if (weight.ndim !== 2) throw new ShapeError(`embedding: weight must be 2-D, got ${shapeStr(weight.shape)}`);
  if (sizeOf(idsShape) !== ids.length) throw new ShapeError(`embedding: ${ids.length} ids do not fit shape ${shapeStr(idsShape)}`);
  const [V, C] = weight.shape;
  const out = new Float32Array(ids.length * C);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= V) throw new ShapeError(`embedding: id ${id} at position ${i} is outside the table of ${V} rows`, { code: 'bad_input' });
    out.set(weight.data.subarray(id * C, (id + 1) * C), i * C);
  }
  // The table's gradient is sparse: only the looked-up rows get one, added in place.
  return makeResult(out, [...idsShape, C], [weight], (g) => [{
    addInto(gw: Float32Array) {
      for (let i = 0; i < ids.length; i++) {
        const o = ids[i] * C;
        for (let j = 0; j < C; j++) gw[o + j] += g[i * C + j];
      }
    },
  }]);
}
