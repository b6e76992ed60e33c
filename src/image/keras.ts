/**
 * A Keras-style way to define a network, so aigc's GAN definitions read like the seed's Keras
 * code:
 *
 * ```ts
 * const model = new KerasSequential({ inputShape: [100] });
 * model.add(Dense(8 * 8 * 256, { activation: 'relu' }));
 * model.add(Reshape([8, 8, 256]));
 * model.add(Conv2DTranspose(128, 5, { strides: 1, padding: 'same', activation: 'relu' }));
 * ```
 *
 * Each `add` infers the layer's input size from the previous layer (as Keras does) and appends
 * plain `nn` layers — the layer itself, then its activation as a separate entry — so the
 * parameter names are PyTorch's `nn.Sequential` names (`0.weight`, `3.bias`, ...).
 *
 * Differences from Keras, all deliberate:
 * - Tensors are NCHW (PyTorch's layout). Shapes in `Reshape` and `inputShape` are still given
 *   Keras-style as (height, width, channels); `Reshape([8, 8, 256])` reads the 16384 dense
 *   outputs channel-major (as PyTorch's `Unflatten(1, (256, 8, 8))`), and `Flatten` flattens
 *   channel-major. Both are fixed permutations of the Keras order: the networks can represent
 *   exactly the same functions.
 * - 'same' padding follows TensorFlow exactly (the extra padding row/column goes bottom/right).
 * - Weights start as PyTorch initialises them (the presets re-initialise per the DCGAN paper).
 * - BatchNormalization's momentum is PyTorch's (weight of the new batch, default 0.1 =
 *   Keras's 0.9).
 */
import { Rng } from '../engine/rng.js';
import { ConfigError } from '../errors.js';
import {
  BatchNorm2d, BatchNorm, Conv2d, ConvTranspose2d, Flatten as FlattenLayer, Lambda, Linear, Reshape as ReshapeLayer, Sequential,
} from '../nn/layers.js';
import type { Layer } from '../nn/module.js';
import * as F from '../engine/ops/index.js';

export type ActivationName = 'relu' | 'sigmoid' | 'tanh' | 'leaky_relu' | 'linear';

/** Shape of one example, without the batch axis: [features] or [channels, height, width]. */
export type ExampleShape = readonly number[];

/** A layer description: builds nn layers once it knows the shape of its input. */
export interface KerasLayer {
  readonly kind: string;
  /** `prev` is the last layer added so far (activations use it to decide whether they may work in place). */
  build(input: ExampleShape, rng: Rng, prev?: Layer): { layers: Layer[]; output: ExampleShape };
}

/** Layers whose backward pass reads only their input, so a following activation may overwrite their output. */
function producesScratch(l: Layer | undefined): boolean {
  return l instanceof Conv2d || l instanceof ConvTranspose2d || l instanceof Linear || l instanceof BatchNorm;
}

/**
 * Activation layers (same labels as nn's), on the fast loops of ./activations.js. `inPlace`
 * when the input comes straight from a conv / dense / batch-norm layer, whose backward pass
 * does not read its output.
 */
function activationLayers(name: ActivationName | undefined, alpha = 0.2, inPlace = true): Layer[] {
  switch (name ?? 'linear') {
    case 'linear': return [];
    case 'relu': return [new Lambda((x) => F.relu(x, { inPlace }), 'ReLU')];
    case 'sigmoid': return [new Lambda(F.sigmoid, 'Sigmoid')];
    case 'tanh': return [new Lambda(F.tanh, 'Tanh')];
    case 'leaky_relu': return [new Lambda((x) => F.leakyRelu(x, alpha, { inPlace }), 'LeakyReLU')];
    default: throw new ConfigError(`unknown activation "${name}" (expected relu, sigmoid, tanh, leaky_relu or linear)`);
  }
}

function fmt(shape: ExampleShape): string {
  return shape.length === 3 ? `(${shape[1]}, ${shape[2]}, ${shape[0]})` : `(${shape.join(', ')})`;
}

export interface DenseOptions {
  activation?: ActivationName;
  useBias?: boolean;
}

/** Fully connected layer (Keras Dense). */
export function Dense(units: number, opts: DenseOptions = {}): KerasLayer {
  return {
    kind: 'Dense',
    build(input, rng) {
      if (input.length !== 1) throw new ConfigError(`Dense(${units}) needs a flat input, got ${fmt(input)}; add Flatten() first`);
      return { layers: [new Linear(input[0], units, { rng, bias: opts.useBias ?? true }), ...activationLayers(opts.activation)], output: [units] };
    },
  };
}

export interface ConvLayerOptions {
  strides?: number;
  padding?: 'same' | 'valid';
  activation?: ActivationName;
  useBias?: boolean;
}

function convOut(size: number, k: number, s: number, padding: 'same' | 'valid'): number {
  return padding === 'same' ? Math.ceil(size / s) : Math.floor((size - k) / s) + 1;
}

/** 2-D convolution (Keras Conv2D), square kernel. */
export function Conv2D(filters: number, kernelSize: number, opts: ConvLayerOptions = {}): KerasLayer {
  return {
    kind: 'Conv2D',
    build(input, rng) {
      if (input.length !== 3) throw new ConfigError(`Conv2D(${filters}) needs an image input (height, width, channels), got ${fmt(input)}`);
      const [c, h, w] = input, s = opts.strides ?? 1, padding = opts.padding ?? 'valid';
      const conv = new Conv2d(c, filters, kernelSize, { stride: s, padding, bias: opts.useBias ?? true, rng });
      return { layers: [conv, ...activationLayers(opts.activation)], output: [filters, convOut(h, kernelSize, s, padding), convOut(w, kernelSize, s, padding)] };
    },
  };
}

/** Transposed 2-D convolution (Keras Conv2DTranspose), square kernel. 'same' gives size·stride. */
export function Conv2DTranspose(filters: number, kernelSize: number, opts: ConvLayerOptions = {}): KerasLayer {
  return {
    kind: 'Conv2DTranspose',
    build(input, rng) {
      if (input.length !== 3) throw new ConfigError(`Conv2DTranspose(${filters}) needs an image input (height, width, channels), got ${fmt(input)}`);
      const [c, h, w] = input, s = opts.strides ?? 1, padding = opts.padding ?? 'valid';
      const conv = new ConvTranspose2d(c, filters, kernelSize, { stride: s, padding, bias: opts.useBias ?? true, rng });
      const size = (n: number) => (padding === 'same' ? n * s : (n - 1) * s + kernelSize);
      return { layers: [conv, ...activationLayers(opts.activation)], output: [filters, size(h), size(w)] };
    },
  };
}

/** Keras Reshape; the target is (height, width, channels) or (features). See the file comment for the order. */
export function Reshape(target: readonly number[]): KerasLayer {
  return {
    kind: 'Reshape',
    build(input) {
      const nIn = input.reduce((a, b) => a * b, 1), nOut = target.reduce((a, b) => a * b, 1);
      if (nIn !== nOut) throw new ConfigError(`Reshape(${fmt(target)}): input ${fmt(input)} has ${nIn} values, the target ${nOut}`);
      const out = target.length === 3 ? [target[2], target[0], target[1]] : [...target];
      return { layers: [ReshapeLayer(out)], output: out };
    },
  };
}

export function Flatten(): KerasLayer {
  return { kind: 'Flatten', build: (input) => ({ layers: [FlattenLayer()], output: [input.reduce((a, b) => a * b, 1)] }) };
}

/** Batch normalisation over channels (images) or features (flat inputs). */
export function BatchNormalization(opts: { momentum?: number; epsilon?: number } = {}): KerasLayer {
  return {
    kind: 'BatchNormalization',
    build: (input) => ({
      layers: [new (input.length === 3 ? BatchNorm2d : BatchNorm)(input[0], { momentum: opts.momentum, eps: opts.epsilon })],
      output: input,
    }),
  };
}

export function LeakyReLU(alpha = 0.2): KerasLayer {
  return { kind: 'LeakyReLU', build: (input, _rng, prev) => ({ layers: activationLayers('leaky_relu', alpha, producesScratch(prev)), output: input }) };
}

export function Activation(name: ActivationName): KerasLayer {
  return { kind: 'Activation', build: (input, _rng, prev) => ({ layers: activationLayers(name, 0.2, producesScratch(prev)), output: input }) };
}

/**
 * Keras's Sequential model over aigc layers. `inputShape` is Keras-style: [features] or
 * [height, width, channels]. `outputShape` is NCHW-style ([channels, height, width]).
 */
export class KerasSequential extends Sequential {
  /** Shape of one input example, [features] or [channels, height, width]. */
  readonly inputShape: ExampleShape;
  private shape: ExampleShape;
  private readonly rng: Rng;

  constructor(opts: { inputShape: readonly number[]; rng?: Rng }) {
    super();
    const s = opts.inputShape;
    if (s.length !== 1 && s.length !== 3) throw new ConfigError(`inputShape must be (features) or (height, width, channels), got (${s.join(', ')})`);
    this.inputShape = s.length === 3 ? [s[2], s[0], s[1]] : [...s];
    this.shape = this.inputShape;
    this.rng = opts.rng ?? new Rng(0);
  }

  /** Shape of one output example: [features] or [channels, height, width]. */
  get outputShape(): ExampleShape {
    return this.shape;
  }

  override add(layer: KerasLayer | Layer): this {
    if (!('build' in layer)) return super.add(layer);
    const { layers, output } = layer.build(this.shape, this.rng, this.layers[this.layers.length - 1]);
    for (const l of layers) super.add(l);
    this.shape = output;
    return this;
  }

  /** One line per layer: index, kind and parameter count (like Keras's model.summary()). */
  summary(): string {
    return this.layers
      .map((l, i) => {
        const kind = l instanceof Lambda ? l.label : l.constructor.name;
        return `${String(i).padStart(3)}  ${kind.padEnd(16)} ${l.numParameters()}`;
      })
      .join('\n');
  }
}
