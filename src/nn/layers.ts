/**
 * Standard layers. Weights use PyTorch's layouts and default initialisations, so state dicts
 * move between aigc and PyTorch unchanged: Linear [out, in], Conv2d [cOut, cIn, kH, kW],
 * ConvTranspose2d [cIn, cOut, kH, kW].
 */
import * as F from '../engine/ops/index.js';
import type { Padding } from '../engine/ops/conv.js';
import { Rng } from '../engine/rng.js';
import { Tensor } from '../engine/tensor.js';
import { normal, uniform } from './init.js';
import { Layer } from './module.js';

export class Linear extends Layer {
  weight: Tensor; // (out, in)
  bias: Tensor | null; // (out)

  /** Init as PyTorch: U(−1/√in, 1/√in) for weight and bias. */
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { bias?: boolean; rng?: Rng } = {}) {
    super();
    const rng = opts.rng ?? new Rng(0);
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = uniform([outFeatures, inFeatures], -bound, bound, rng);
    this.bias = opts.bias ?? true ? uniform([outFeatures], -bound, bound, rng) : null;
  }

  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
}

/** Lookup table (num, dim), init N(0, std) (PyTorch: std 1). */
export class Embedding extends Layer {
  weight: Tensor;

  constructor(readonly num: number, readonly dim: number, opts: { rng?: Rng; std?: number } = {}) {
    super();
    this.weight = normal([num, dim], 0, opts.std ?? 1, opts.rng ?? new Rng(0));
  }

  /** Rows for integer ids laid out in `shape` (default 1-D); returns [...shape, dim]. */
  lookup(ids: ArrayLike<number>, shape?: readonly number[]): Tensor {
    return F.embedding(this.weight, ids, shape);
  }

  /** Ids given as a float tensor of integers. */
  forward(ids: Tensor): Tensor {
    return F.embedding(this.weight, ids.data, ids.shape);
  }
}

export class LayerNorm extends Layer {
  weight: Tensor;
  bias: Tensor;

  constructor(readonly dim: number, readonly eps = 1e-5) {
    super();
    this.weight = Tensor.ones([dim], true);
    this.bias = Tensor.zeros([dim], true);
  }

  forward(x: Tensor): Tensor {
    return F.layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/** Batch norm over channels of (N, C, H, W) or (N, C); running stats are buffers. */
export class BatchNorm extends Layer {
  weight: Tensor;
  bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;

  constructor(readonly channels: number, readonly opts: { momentum?: number; eps?: number } = {}) {
    super();
    this.weight = Tensor.ones([channels], true);
    this.bias = Tensor.zeros([channels], true);
    this.runningMean = this.registerBuffer('running_mean', Tensor.zeros([channels]));
    this.runningVar = this.registerBuffer('running_var', Tensor.ones([channels]));
  }

  forward(x: Tensor): Tensor {
    return F.batchNorm(x, this.weight, this.bias, { runningMean: this.runningMean.data, runningVar: this.runningVar.data }, {
      training: this.training, momentum: this.opts.momentum, eps: this.opts.eps,
    });
  }
}

/** PyTorch's name for the 4-D case. */
export const BatchNorm2d = BatchNorm;

export interface ConvOptions {
  stride?: number;
  /** Number, [h, w], 'same' (Keras/TensorFlow placement) or 'valid'. Default 0. */
  padding?: Padding;
  bias?: boolean;
  rng?: Rng;
}

function convInitBound(fanIn: number): number {
  return 1 / Math.sqrt(fanIn); // PyTorch's kaiming_uniform(a=√5) bound, also its bias bound
}

export class Conv2d extends Layer {
  weight: Tensor; // (cOut, cIn, k, k)
  bias: Tensor | null;

  constructor(readonly cIn: number, readonly cOut: number, readonly kernel: number, readonly opts: ConvOptions = {}) {
    super();
    const rng = opts.rng ?? new Rng(0);
    const b = convInitBound(cIn * kernel * kernel);
    this.weight = uniform([cOut, cIn, kernel, kernel], -b, b, rng);
    this.bias = opts.bias ?? true ? uniform([cOut], -b, b, rng) : null;
  }

  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, { stride: this.opts.stride, padding: this.opts.padding });
  }
}

export class ConvTranspose2d extends Layer {
  weight: Tensor; // (cIn, cOut, k, k)
  bias: Tensor | null;

  constructor(readonly cIn: number, readonly cOut: number, readonly kernel: number, readonly opts: ConvOptions & { outputPadding?: number } = {}) {
    super();
    const rng = opts.rng ?? new Rng(0);
    // PyTorch computes fan-in from weight dim 1 (cOut here) for transposed convs.
    const b = convInitBound(cOut * kernel * kernel);
    this.weight = uniform([cIn, cOut, kernel, kernel], -b, b, rng);
    this.bias = opts.bias ?? true ? uniform([cOut], -b, b, rng) : null;
  }

  forward(x: Tensor): Tensor {
    return F.convTranspose2d(x, this.weight, this.bias, {
      stride: this.opts.stride, padding: this.opts.padding, outputPadding: this.opts.outputPadding,
    });
  }
}

export class Dropout extends Layer {
  constructor(readonly p: number, readonly rng: Rng = new Rng(0)) {
    super();
  }

  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.rng, this.training);
  }
}

/** A stateless function as a layer (activations, reshapes). */
export class Lambda extends Layer {
  constructor(readonly fn: (x: Tensor) => Tensor, readonly label = 'Lambda') {
    super();
  }

  forward(x: Tensor): Tensor {
    return this.fn(x);
  }
}

export const ReLU = () => new Lambda(F.relu, 'ReLU');
export const LeakyReLU = (slope = 0.2) => new Lambda((x) => F.leakyRelu(x, slope), 'LeakyReLU');
export const Sigmoid = () => new Lambda(F.sigmoid, 'Sigmoid');
export const Tanh = () => new Lambda(F.tanh, 'Tanh');
export const GELU = () => new Lambda(F.gelu, 'GELU');
export const Flatten = () => new Lambda((x) => F.flatten(x, 1), 'Flatten');
/** Reshape each batch item to `shape` (Keras Reshape / PyTorch Unflatten). */
export const Reshape = (shape: readonly number[]) => new Lambda((x) => F.reshape(x, [x.shape[0], ...shape]), 'Reshape');

/** Layers applied in order. Children are named by index, as PyTorch's nn.Sequential. */
export class Sequential extends Layer {
  readonly layers: Layer[];

  constructor(...layers: Layer[]) {
    super();
    this.layers = layers;
  }

  add(layer: Layer): this {
    this.layers.push(layer);
    return this;
  }

  override namedChildren(): [string, Layer][] {
    return this.layers.map((l, i) => [String(i), l]);
  }

  forward(x: Tensor): Tensor {
    for (const l of this.layers) x = l.forward(x);
    return x;
  }
}
