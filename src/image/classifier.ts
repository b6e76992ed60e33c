/**
 * A small CNN classifier trained on the GAN's own data set. It serves two purposes, as
 * Inception does for FID (Inception itself is not available offline):
 * - its 128-value penultimate layer is the feature space of the Fréchet distance;
 * - it checks that a conditional generator makes what was asked for (the share of generated
 *   images it assigns to the requested class).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as F from '../engine/ops/index.js';
import { Rng } from '../engine/rng.js';
import { noGrad, Tensor } from '../engine/tensor.js';
import { CheckpointError, DataError } from '../errors.js';
import { writeJsonAtomic } from '../io/atomic.js';
import type { ImageDataset } from '../io/datasets/types.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { Module } from '../nn/module.js';
import { Adam } from '../nn/optim.js';
import { Conv2D, Dense, Flatten, KerasSequential } from './keras.js';
import { accuracy } from './step.js';

export const FEATURE_DIM = 128;

export interface ClassifierMeta {
  format: 'aigc-image-classifier';
  size: number;
  channels: number;
  labels: string[];
  source: string;
  testAccuracy?: number;
  epochs: number;
  seconds: number;
}

export class Classifier extends Module {
  readonly net: KerasSequential;

  constructor(readonly size: number, readonly channels: number, readonly labels: string[], rng = new Rng(0)) {
    super();
    const model = new KerasSequential({ inputShape: [size, size, channels], rng });
    model.add(Conv2D(32, 5, { strides: 2, padding: 'same', activation: 'relu' }));
    model.add(Conv2D(64, 5, { strides: 2, padding: 'same', activation: 'relu' }));
    model.add(Flatten());
    model.add(Dense(FEATURE_DIM, { activation: 'relu' }));
    model.add(Dense(labels.length));
    this.net = model;
  }

  /** Features (N, 128) and logits (N, classes) of images in [0, 1]. */
  run(x: Tensor): { features: Tensor; logits: Tensor } {
    let h = x;
    const L = this.net.layers;
    for (let i = 0; i < L.length - 1; i++) h = L[i].forward(h);
    return { features: h, logits: L[L.length - 1].forward(h) };
  }
}

/** Features and predicted classes of many images, in eval mode, in batches. */
export function classify(c: Classifier, images: Float32Array, count: number): { features: Float32Array; predictions: Int32Array } {
  c.eval();
  const per = c.channels * c.size * c.size, B = 250;
  const features = new Float32Array(count * FEATURE_DIM), predictions = new Int32Array(count);
  const K = c.labels.length;
  noGrad(() => {
    for (let s = 0; s < count; s += B) {
      const n = Math.min(B, count - s);
      const out = c.run(new Tensor(images.subarray(s * per, (s + n) * per), [n, c.channels, c.size, c.size]));
      features.set(out.features.data, s * FEATURE_DIM);
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let j = 1; j < K; j++) if (out.logits.data[i * K + j] > out.logits.data[i * K + best]) best = j;
        predictions[s + i] = best;
      }
    }
  });
  return { features, predictions };
}

export interface TrainClassifierOptions {
  epochs?: number;
  batchSize?: number;
  seed?: number;
  test?: ImageDataset;
  onProgress?: (epoch: number, batch: number, batches: number, loss: number) => void;
}

export function trainClassifier(data: ImageDataset, opts: TrainClassifierOptions = {}): { classifier: Classifier; meta: ClassifierMeta } {
  if (!data.labels || !data.classNames) throw new DataError(`${data.source}: the data has no class labels, so no classifier (and no Fréchet distance) can be trained on it`);
  const t0 = performance.now();
  const rng = new Rng(opts.seed ?? 0);
  const c = new Classifier(data.size, data.channels, data.classNames, rng);
  const opt = new Adam(c.parameters(), { lr: 1e-3 });
  const epochs = opts.epochs ?? 8, B = opts.batchSize ?? 64, per = data.channels * data.size * data.size;
  const order = Int32Array.from({ length: data.count }, (_, i) => i);
  const batches = Math.floor(data.count / B);
  const x = new Float32Array(B * per), y = new Int32Array(B);
  for (let e = 0; e < epochs; e++) {
    rng.shuffle(order);
    c.train();
    for (let b = 0; b < batches; b++) {
      for (let i = 0; i < B; i++) {
        const k = order[b * B + i];
        x.set(data.images.subarray(k * per, (k + 1) * per), i * per);
        y[i] = data.labels[k];
      }
      opt.zeroGrad();
      const loss = F.crossEntropy(c.run(new Tensor(x, [B, data.channels, data.size, data.size])).logits, y);
      loss.backward();
      opt.step();
      opts.onProgress?.(e, b, batches, loss.item());
    }
  }
  const meta: ClassifierMeta = {
    format: 'aigc-image-classifier', size: data.size, channels: data.channels, labels: data.classNames, source: data.source,
    epochs, seconds: Math.round((performance.now() - t0) / 100) / 10,
  };
  if (opts.test?.labels) {
    const { predictions } = classify(c, opts.test.images, opts.test.count);
    let ok = 0;
    for (let i = 0; i < opts.test.count; i++) if (predictions[i] === opts.test.labels[i]) ok++;
    meta.testAccuracy = ok / opts.test.count;
  }
  void accuracy;
  return { classifier: c, meta };
}

export function saveClassifier(dir: string, c: Classifier, meta: ClassifierMeta): void {
  mkdirSync(dir, { recursive: true });
  const t: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  for (const [k, v] of c.stateDict()) t[k] = { dtype: 'F32', shape: [...v.shape], data: v.data };
  writeSafetensors(path.join(dir, 'classifier.safetensors'), t, { format: meta.format });
  writeJsonAtomic(path.join(dir, 'classifier.json'), meta);
}

export function loadClassifier(dir: string): { classifier: Classifier; meta: ClassifierMeta } {
  const mf = path.join(dir, 'classifier.json');
  if (!existsSync(mf)) throw new CheckpointError(`${dir}: no classifier.json`);
  const meta = JSON.parse(readFileSync(mf, 'utf8')) as ClassifierMeta;
  if (meta.format !== 'aigc-image-classifier') throw new CheckpointError(`${mf}: not an aigc image classifier`);
  const c = new Classifier(meta.size, meta.channels, meta.labels);
  const st = readSafetensors(path.join(dir, 'classifier.safetensors'));
  c.loadStateDict(new Map(st.names().map((n) => [n, new Tensor(st.getTyped(n) as Float32Array, st.info(n).shape)])), { source: path.join(dir, 'classifier.safetensors') });
  return { classifier: c, meta };
}
