/**
 * GAN architectures: the seed's network (`seed64`) and DCGAN-paper presets for 28×28, 32×32
 * and 64×64 images, grayscale or colour, with configurable latent size and channel width.
 *
 * `seed64` is the seed program's Keras code, fixed where it was wrong:
 * - the seed built the generator with `input_shape=(256, 256, 3)` (an image shape); a
 *   generator's input is the latent vector, here of `latentDim` values (default 100);
 * - the seed gave the discriminator the same (256, 256, 3) input, but the generator makes
 *   64×64×3 images, so the discriminator here takes 64×64×3.
 * Everything else is as the seed wrote it: ReLU everywhere, sigmoid output in [0, 1], no
 * batch norm, 5×5 kernels, 'same' padding.
 *
 * The `dcgan*` presets follow Radford et al. (2016): strided (transposed) convolutions instead
 * of pooling, batch norm in both networks (not on the generator's output or the
 * discriminator's input layer), ReLU in the generator with a tanh output (images in [−1, 1]),
 * LeakyReLU(0.2) in the discriminator, weights drawn from N(0, 0.02).
 *
 * Conditional models (when the data has class labels) give the generator a learned label
 * embedding concatenated to the latent vector, and the discriminator an auxiliary classifier
 * head (AC-GAN, Odena et al. 2017).
 */
import { Rng } from '../engine/rng.js';
import { ConfigError } from '../errors.js';
import { BatchNorm, Conv2d, ConvTranspose2d, Embedding, Linear } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import {
  BatchNormalization, Conv2D, Conv2DTranspose, Dense, Flatten, KerasSequential, LeakyReLU, Reshape, Activation,
} from './keras.js';

export type PresetName = 'seed64' | 'dcgan28' | 'dcgan32' | 'dcgan64';
export const PRESETS: readonly PresetName[] = ['seed64', 'dcgan28', 'dcgan32', 'dcgan64'];

/** Everything needed to rebuild a GAN; stored in checkpoints. */
export interface GanConfig {
  preset: PresetName;
  imageSize: number;
  /** 1 (grayscale) or 3 (RGB). */
  channels: number;
  latentDim: number;
  /** Base channel width (DCGAN's ngf = ndf); seed64 ignores it. */
  width: number;
  /** Class names when conditional; null for an unconditional GAN. */
  labels: string[] | null;
  /** Range of the generator's output: sigmoid → [0, 1], tanh → [−1, 1]. */
  output: 'sigmoid' | 'tanh';
}

export interface PresetOptions {
  channels?: number;
  latentDim?: number;
  width?: number;
  labels?: string[] | null;
}

export function presetConfig(preset: string, opts: PresetOptions = {}): GanConfig {
  if (!(PRESETS as readonly string[]).includes(preset)) throw new ConfigError(`unknown preset "${preset}"; choose one of: ${PRESETS.join(', ')}`);
  const p = preset as PresetName;
  const latentDim = opts.latentDim ?? 100;
  if (!Number.isInteger(latentDim) || latentDim < 1) throw new ConfigError(`latent size must be a positive integer, got ${latentDim}`);
  const labels = opts.labels && opts.labels.length ? [...opts.labels] : null;
  if (p === 'seed64') {
    const channels = opts.channels ?? 3;
    if (channels !== 3) throw new ConfigError(`preset seed64 makes 64x64x3 images; it cannot take ${channels}-channel data (use dcgan64 for grayscale)`);
    return { preset: p, imageSize: 64, channels: 3, latentDim, width: 64, labels, output: 'sigmoid' };
  }
  const channels = opts.channels ?? (p === 'dcgan28' ? 1 : 3);
  if (channels !== 1 && channels !== 3) throw new ConfigError(`channels must be 1 or 3, got ${channels}`);
  const width = opts.width ?? 64;
  if (!Number.isInteger(width) || width < 1) throw new ConfigError(`width must be a positive integer, got ${width}`);
  const imageSize = { dcgan28: 28, dcgan32: 32, dcgan64: 64 }[p];
  return { preset: p, imageSize, channels, latentDim, width, labels, output: 'tanh' };
}

/** Length of the generator's input: latent vector plus label embedding. */
export function embedDim(cfg: GanConfig): number {
  return cfg.labels ? cfg.labels.length : 0;
}

// ---- the networks, written as the seed wrote them ------------------------------------------------

/** The seed's generator (fixed: its input is the latent vector). 64×64×3 in [0, 1]. */
export function buildSeedGenerator(inputDim: number, rng = new Rng(0)): KerasSequential {
  const model = new KerasSequential({ inputShape: [inputDim], rng });
  model.add(Dense(8 * 8 * 256, { activation: 'relu' }));
  model.add(Reshape([8, 8, 256]));
  model.add(Conv2DTranspose(128, 5, { strides: 1, padding: 'same', activation: 'relu' }));
  model.add(Conv2DTranspose(128, 5, { strides: 2, padding: 'same', activation: 'relu' }));
  model.add(Conv2DTranspose(64, 5, { strides: 2, padding: 'same', activation: 'relu' }));
  model.add(Conv2DTranspose(3, 5, { strides: 2, padding: 'same', activation: 'sigmoid' }));
  return model;
}

/** The seed's discriminator (fixed: it takes the generator's 64×64×3). */
export function buildSeedDiscriminator(rng = new Rng(0)): KerasSequential {
  const model = new KerasSequential({ inputShape: [64, 64, 3], rng });
  model.add(Conv2D(64, 5, { strides: 2, padding: 'same', activation: 'relu' }));
  model.add(Conv2D(128, 5, { strides: 2, padding: 'same', activation: 'relu' }));
  model.add(Flatten());
  model.add(Dense(1, { activation: 'sigmoid' }));
  return model;
}

/**
 * DCGAN generator: project and reshape to a 7×7 (28) or 4×4 (32, 64) map, then upsample ×2 per
 * transposed convolution, halving the channels, to size×size×channels in [−1, 1].
 */
export function buildDcganGenerator(cfg: GanConfig, inputDim: number, rng = new Rng(0)): KerasSequential {
  const w = cfg.width;
  const start = cfg.imageSize === 28 ? 7 : 4;
  const ups = Math.round(Math.log2(cfg.imageSize / start));
  const model = new KerasSequential({ inputShape: [inputDim], rng });
  let c = w * 2 ** (ups - 1);
  model.add(Dense(start * start * c, { useBias: false }));
  model.add(Reshape([start, start, c]));
  model.add(BatchNormalization());
  model.add(Activation('relu'));
  for (let i = 1; i < ups; i++) {
    c /= 2;
    model.add(Conv2DTranspose(c, 4, { strides: 2, padding: 'same', useBias: false }));
    model.add(BatchNormalization());
    model.add(Activation('relu'));
  }
  model.add(Conv2DTranspose(cfg.channels, 4, { strides: 2, padding: 'same', activation: 'tanh' }));
  return model;
}

/** DCGAN discriminator: strided convolutions doubling the channels down to 7×7 or 4×4, then Dense(1, sigmoid). */
export function buildDcganDiscriminator(cfg: GanConfig, rng = new Rng(0)): KerasSequential {
  const start = cfg.imageSize === 28 ? 7 : 4;
  const downs = Math.round(Math.log2(cfg.imageSize / start));
  const model = new KerasSequential({ inputShape: [cfg.imageSize, cfg.imageSize, cfg.channels], rng });
  model.add(Conv2D(cfg.width, 4, { strides: 2, padding: 'same' }));
  model.add(LeakyReLU(0.2));
  for (let i = 1; i < downs; i++) {
    model.add(Conv2D(cfg.width * 2 ** i, 4, { strides: 2, padding: 'same', useBias: false }));
    model.add(BatchNormalization());
    model.add(LeakyReLU(0.2));
  }
  model.add(Flatten());
  model.add(Dense(1, { activation: 'sigmoid' }));
  return model;
}

/** DCGAN initialisation: conv/dense weights N(0, 0.02), biases 0, batch-norm scale N(1, 0.02). */
export function dcganInit(m: Module, rng: Rng): void {
  const visit = (mod: Module): void => {
    if (mod instanceof Conv2d || mod instanceof ConvTranspose2d || mod instanceof Linear) {
      rng.fillNormal(mod.weight.data, 0, 0.02);
      mod.bias?.data.fill(0);
    } else if (mod instanceof BatchNorm) {
      rng.fillNormal(mod.weight.data, 1, 0.02);
      mod.bias.data.fill(0);
    } else if (mod instanceof Embedding) {
      rng.fillNormal(mod.weight.data, 0, 1);
    }
    for (const [, c] of mod.namedChildren()) visit(c);
  };
  visit(m);
}
