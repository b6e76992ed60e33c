/**
 * Generator and discriminator modules around the preset networks, with the conditional parts:
 * a label embedding for the generator and an auxiliary class head for the discriminator.
 *
 * State-dict names: `net.<i>.weight` for the Keras-style network (PyTorch nn.Sequential
 * indices), `label_embed.weight` and `aux.weight` / `aux.bias` for the conditional parts.
 */
import * as F from '../engine/ops/index.js';
import { Rng } from '../engine/rng.js';
import { shapeStr, Tensor } from '../engine/tensor.js';
import { ShapeError } from '../errors.js';
import { Embedding, Lambda, Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import type { KerasSequential } from './keras.js';
import {
  buildDcganDiscriminator, buildDcganGenerator, buildSeedDiscriminator, buildSeedGenerator, dcganInit, embedDim,
  type GanConfig,
} from './presets.js';

export class Generator extends Module {
  readonly net: KerasSequential;
  readonly label_embed: Embedding | null;

  constructor(readonly config: GanConfig, rng = new Rng(0)) {
    super();
    const e = embedDim(config);
    this.label_embed = config.labels ? new Embedding(config.labels.length, e, { rng }) : null;
    const inputDim = config.latentDim + e;
    this.net = config.preset === 'seed64' ? buildSeedGenerator(inputDim, rng) : buildDcganGenerator(config, inputDim, rng);
    if (config.preset !== 'seed64') dcganInit(this, rng);
  }

  /** z (N, latentDim) and, for a conditional model, one class index per row -> images (N, C, H, W). */
  forward(z: Tensor, labels?: ArrayLike<number> | null): Tensor {
    if (z.ndim !== 2 || z.shape[1] !== this.config.latentDim) throw new ShapeError(`generator: latent batch must be (N, ${this.config.latentDim}), got ${shapeStr(z.shape)}`);
    let h = z;
    if (this.label_embed) {
      if (!labels || labels.length !== z.shape[0]) throw new ShapeError(`generator: a conditional model needs one label per latent vector (${z.shape[0]}), got ${labels ? labels.length : 'none'}`);
      h = F.concat([z, this.label_embed.lookup(labels)], 1);
    }
    return this.net.forward(h);
  }
}

export interface DiscriminatorOutput {
  /** Probability that each image is real, (N, 1). */
  prob: Tensor;
  /** Class logits (N, classes) for a conditional model, else null. */
  classLogits: Tensor | null;
}

export class Discriminator extends Module {
  readonly net: KerasSequential;
  readonly aux: Linear | null;
  /** Index of the Flatten layer: its output is the feature vector the heads read. */
  private readonly flatAt: number;

  constructor(readonly config: GanConfig, rng = new Rng(0)) {
    super();
    this.net = config.preset === 'seed64' ? buildSeedDiscriminator(rng) : buildDcganDiscriminator(config, rng);
    this.flatAt = this.net.layers.findIndex((l) => l instanceof Lambda && l.label === 'Flatten');
    const head = this.net.layers[this.flatAt + 1] as Linear;
    this.aux = config.labels ? new Linear(head.inFeatures, config.labels.length, { rng }) : null;
    if (config.preset !== 'seed64') dcganInit(this, rng);
  }

  forward(x: Tensor): DiscriminatorOutput {
    const s = this.config;
    if (x.ndim !== 4 || x.shape[1] !== s.channels || x.shape[2] !== s.imageSize || x.shape[3] !== s.imageSize) {
      throw new ShapeError(`discriminator: images must be (N, ${s.channels}, ${s.imageSize}, ${s.imageSize}), got ${shapeStr(x.shape)}`);
    }
    let h = x;
    const layers = this.net.layers;
    for (let i = 0; i <= this.flatAt; i++) h = layers[i].forward(h);
    const feats = h;
    for (let i = this.flatAt + 1; i < layers.length; i++) h = layers[i].forward(h);
    return { prob: h, classLogits: this.aux ? this.aux.forward(feats) : null };
  }
}
