/**
 * Float32 tensors with reverse-mode autograd.
 *
 * A Tensor is a shape over a dense row-major Float32Array. Ops (in `ops/`) build new tensors;
 * when grad mode is on and an input requires grad, the result records a `GradNode`: its
 * inputs and a closure that maps the output gradient to input gradients. `backward()` walks
 * those nodes in reverse topological order. Leaf tensors that require grad accumulate into
 * `.grad` across calls (gradient accumulation), as in PyTorch; intermediate gradients are
 * dropped as soon as they have been propagated.
 */
import { ShapeError } from '../errors.js';

export type Shape = readonly number[];

/**
 * An input gradient given as the way to add it into a dense buffer, for an input that an op
 * touches sparsely (the rows an embedding looked up): backward adds it into the gradient that
 * is already there instead of materialising a mostly-zero array of the input's size.
 */
export interface GradAccumulator {
  addInto(target: Float32Array): void;
}

/** Maps the gradient of an op's output to the gradients of its inputs (null: no gradient). */
export type BackwardFn = (gradOut: Float32Array) => (Float32Array | GradAccumulator | null)[];

interface GradNode {
  inputs: Tensor[];
  backward: BackwardFn;
}

let gradEnabled = true;

/** Runs fn with gradient recording off (inference). Nested calls are fine. */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export class Tensor {
  readonly data: Float32Array;
  readonly shape: Shape;
  requiresGrad: boolean;
  grad: Tensor | null = null;
  /** Set by ops on results that need a gradient; cleared after backward. */
  node: GradNode | null = null;
  /** Optional label used in error messages and state dicts. */
  name?: string;

  constructor(data: Float32Array, shape: Shape, requiresGrad = false) {
    const n = sizeOf(shape);
    if (data.length !== n) {
      throw new ShapeError(`Tensor: data has ${data.length} elements but shape ${shapeStr(shape)} needs ${n}`);
    }
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new ShapeError(`Tensor: invalid shape ${shapeStr(shape)}`);
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
    this.requiresGrad = requiresGrad;
  }

  get size(): number {
    return this.data.length;
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** Size of one axis; negative axes count from the end. */
  dim(axis: number): number {
    return this.shape[normAxis(axis, this.shape.length, 'dim')];
  }

  // ---- constructors ----------------------------------------------------------------------

  static zeros(shape: Shape, requiresGrad = false): Tensor {
    return new Tensor(new Float32Array(sizeOf(shape)), shape, requiresGrad);
  }

  static ones(shape: Shape, requiresGrad = false): Tensor {
    return Tensor.full(shape, 1, requiresGrad);
  }

  static full(shape: Shape, value: number, requiresGrad = false): Tensor {
    return new Tensor(new Float32Array(sizeOf(shape)).fill(value), shape, requiresGrad);
  }

  static scalar(value: number, requiresGrad = false): Tensor {
    return new Tensor(Float32Array.of(value), [], requiresGrad);
  }

  /** From nested arrays or a flat array plus shape. */
  static from(values: ArrayLike<number> | NestedArray, shape?: Shape, requiresGrad = false): Tensor {
    if (shape) return new Tensor(Float32Array.from(values as ArrayLike<number>), shape, requiresGrad);
    const inferred: number[] = [];
    let v: unknown = values;
    while (Array.isArray(v)) {
      inferred.push(v.length);
      v = v[0];
    }
    const flat: number[] = [];
    const walk = (x: unknown): void => {
      if (Array.isArray(x)) x.forEach(walk);
      else flat.push(x as number);
    };
    walk(values);
    return new Tensor(Float32Array.from(flat), inferred, requiresGrad);
  }

  // ---- views and conversion ----------------------------------------------------------------

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new ShapeError(`item: tensor of shape ${shapeStr(this.shape)} has ${this.size} elements, expected 1`);
    return this.data[0];
  }

  toArray(): number[] {
    return Array.from(this.data);
  }

  /** A tensor sharing this one's storage, cut off from the graph. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape, false);
  }

  /** A deep copy (no graph). */
  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape, this.requiresGrad);
  }

  toString(): string {
    const head = Array.from(this.data.subarray(0, 8), (x) => x.toPrecision(4)).join(', ');
    return `Tensor(${shapeStr(this.shape)}, [${head}${this.size > 8 ? ', …' : ''}])`;
  }

  // ---- autograd ----------------------------------------------------------------------------

  /**
   * Backpropagates from this tensor. Without an argument it must be a scalar (gradient 1).
   * Leaf tensors with requiresGrad accumulate into `.grad`.
   */
  backward(gradient?: Float32Array): void {
    if (!gradient && this.size !== 1) {
      throw new ShapeError(`backward: called on a tensor of shape ${shapeStr(this.shape)}; pass a gradient or reduce to a scalar first`);
    }
    if (!this.requiresGrad) throw new Error('backward: tensor does not require grad (was it computed inside noGrad, or from inputs without requiresGrad?)');
    const order = topoOrder(this);
    const grads = new Map<Tensor, Float32Array>();
    // Buffers already held by `grads`: a buffer must have one owner before we add into it.
    const owned = new Set<Float32Array>();
    const seed = gradient ? gradient.slice() : Float32Array.of(1);
    grads.set(this, seed);
    owned.add(seed);
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      if (!t.node) {
        // Leaf: accumulate.
        if (t.grad) {
          const acc = t.grad.data;
          for (let j = 0; j < acc.length; j++) acc[j] += g[j];
        } else {
          t.grad = new Tensor(g, t.shape);
        }
        continue;
      }
      const node = t.node;
      t.node = null; // free the graph as we go
      const ins = node.backward(g);
      for (let k = 0; k < node.inputs.length; k++) {
        const inp = node.inputs[k];
        const gi = ins[k];
        if (!gi || !inp.requiresGrad) continue;
        const prev = grads.get(inp);
        if (!(gi instanceof Float32Array)) {
          // Sparse: into the pending gradient, else straight into a leaf's .grad, else a new buffer.
          if (prev) gi.addInto(prev);
          else if (!inp.node) gi.addInto((inp.grad ??= Tensor.zeros(inp.shape)).data);
          else {
            const own = new Float32Array(inp.size);
            gi.addInto(own);
            grads.set(inp, own);
            owned.add(own);
          }
        } else if (prev) {
          for (let j = 0; j < prev.length; j++) prev[j] += gi[j];
        } else {
          // A backward may hand back its gradOut, or one buffer for two inputs: copy those.
          const own = gi === g || owned.has(gi) ? gi.slice() : gi;
          grads.set(inp, own);
          owned.add(own);
        }
      }
    }
  }

  /** Clears `.grad` (optimizers call this between steps). */
  zeroGrad(): void {
    this.grad = null;
  }
}

export type NestedArray = number | NestedArray[];

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS: graphs of deep models overflow the JS stack with recursion.
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.node ? t.node.inputs : [];
    if (i < inputs.length) {
      top[1] = i + 1;
      const next = inputs[i];
      if (next.requiresGrad && !seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      order.push(t);
      stack.pop();
    }
  }
  return order;
}

/**
 * Wraps an op's output. When grad mode is on and an input requires grad, the result
 * requires grad and remembers how to backpropagate.
 */
export function makeResult(data: Float32Array, shape: Shape, inputs: Tensor[], backward: BackwardFn): Tensor {
  const out = new Tensor(data, shape);
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { inputs, backward };
  }
  return out;
}

export function normAxis(axis: number, ndim: number, op: string): number {
  const a = axis < 0 ? axis + ndim : axis;
  if (!Number.isInteger(a) || a < 0 || a >= ndim) {
    throw new ShapeError(`${op}: axis ${axis} out of range for a tensor with ${ndim} dimensions`);
  }
  return a;
}
