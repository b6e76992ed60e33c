/**
 * `aigc image eval`: how good a generator is, measured with a classifier trained on the same
 * data (see classifier.ts):
 * - Fréchet distance between the classifier's features of generated images and of real test
 *   images, next to the same figure for an untrained generator of the same architecture
 *   (the ceiling) and for real training images (the floor);
 * - for a conditional model, the share of generated images the classifier assigns to the
 *   requested class, per class, compared with its accuracy on real test images.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Rng } from '../engine/rng.js';
import { ConfigError, DataError } from '../errors.js';
import { conform, dataKind, FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, loadIdxDir, loadImageData, loadNpmMnist } from '../io/datasets/index.js';
import type { ImageDataset } from '../io/datasets/types.js';
import { loadGan } from './checkpoint.js';
import { classify, loadClassifier, saveClassifier, trainClassifier, type Classifier } from './classifier.js';
import { frechetDistance, gaussianOf } from './frechet.js';
import { Generator } from './gan.js';
import { generateBatch } from './train.js';

export interface EvalOptions {
  model: string;
  /** Data set (default: the one the model was trained on, from gan.json). */
  data?: string;
  /** Classifier folder (default: <model>/classifier, trained there if missing). */
  classifier?: string;
  /** Generated images (default 2000). */
  count?: number;
  seed?: number;
  onProgress?: (msg: string) => void;
}

export interface EvalReport {
  model: string;
  data: string;
  generated: number;
  reference: number;
  frechet: number;
  frechetUntrained: number;
  frechetRealTrain: number;
  classifierTestAccuracy: number | null;
  /** Share of generated images classified as the requested class (conditional models). */
  generatedAccuracy: number | null;
  /** generatedAccuracy / classifierTestAccuracy. */
  accuracyRatio: number | null;
  perClass: { label: string; real: number; generated: number }[] | null;
}

async function splitOf(spec: string, split: 'train' | 'test', size: number, channels: 1 | 3): Promise<ImageDataset | null> {
  const kind = dataKind(spec);
  if (kind === 'mnist') return conform(loadNpmMnist(split), size, channels);
  if (kind === 'idx') {
    const dir = spec === 'fashion-mnist' ? FASHION_MNIST_DIR : spec;
    try {
      return await conform(loadIdxDir(dir, split, spec === 'fashion-mnist' ? [...FASHION_MNIST_CLASSES] : undefined), size, channels);
    } catch (e) {
      if (split === 'test') return null;
      throw e;
    }
  }
  return split === 'train' ? loadImageData(spec, { size, channels }) : null;
}

function subset(ds: ImageDataset, n: number, seed: number): ImageDataset {
  if (ds.count <= n) return ds;
  const idx = Int32Array.from({ length: ds.count }, (_, i) => i);
  new Rng(seed).shuffle(idx);
  const per = ds.channels * ds.size * ds.size, images = new Float32Array(n * per), labels = ds.labels ? new Int32Array(n) : null;
  for (let i = 0; i < n; i++) { images.set(ds.images.subarray(idx[i] * per, (idx[i] + 1) * per), i * per); if (labels) labels[i] = ds.labels![idx[i]]; }
  return { ...ds, images, labels, count: n };
}

export async function evaluateGan(opts: EvalOptions): Promise<EvalReport> {
  const log = opts.onProgress ?? (() => {});
  const { meta, G } = loadGan(opts.model);
  const cfg = G.config;
  const spec = opts.data ?? (typeof meta.train?.data === 'string' ? meta.train.data : undefined);
  if (!spec) throw new ConfigError(`${opts.model}: gan.json does not say which data it was trained on; pass --data`);
  const ch = cfg.channels as 1 | 3;
  const train = await splitOf(spec, 'train', cfg.imageSize, ch);
  if (!train) throw new DataError(`${spec}: no data`);
  if (!train.labels) throw new DataError(`${spec}: the data has no class labels; the Fréchet distance needs a classifier trained on labelled data`);
  const test = (await splitOf(spec, 'test', cfg.imageSize, ch)) ?? subset(train, 2000, 1);

  let classifier: Classifier;
  let testAcc: number | null = null;
  const cdir = opts.classifier ?? path.join(opts.model, 'classifier');
  if (existsSync(path.join(cdir, 'classifier.json'))) {
    const c = loadClassifier(cdir);
    classifier = c.classifier;
    if (c.meta.size !== cfg.imageSize || c.meta.channels !== cfg.channels) throw new ConfigError(`classifier ${cdir} is for ${c.meta.size}x${c.meta.size}x${c.meta.channels} images, the model makes ${cfg.imageSize}x${cfg.imageSize}x${cfg.channels}`);
  } else {
    log(`training a classifier on ${train.source} (saved to ${cdir})`);
    const c = trainClassifier(train, { test });
    saveClassifier(cdir, c.classifier, c.meta);
    classifier = c.classifier;
  }
  if (cfg.labels && JSON.stringify(classifier.labels) !== JSON.stringify(cfg.labels)) {
    throw new ConfigError(`the classifier's labels (${classifier.labels.join(', ')}) are not the model's (${cfg.labels.join(', ')})`);
  }

  log('computing features of real images');
  const realTest = classify(classifier, test.images, test.count);
  const ref = gaussianOf(realTest.features, test.count, 128);
  if (test.labels) {
    let ok = 0;
    for (let i = 0; i < test.count; i++) if (realTest.predictions[i] === test.labels[i]) ok++;
    testAcc = ok / test.count;
  }
  const trainSub = subset(train, Math.min(train.count, opts.count ?? 2000), 2);
  const frechetRealTrain = frechetDistance(gaussianOf(classify(classifier, trainSub.images, trainSub.count).features, trainSub.count, 128), ref);

  const n = opts.count ?? 2000;
  log(`generating ${n} images`);
  const gen = generateBatch(G, n, new Rng(opts.seed ?? 12345));
  const genOut = classify(classifier, gen.images, n);
  const frechet = frechetDistance(gaussianOf(genOut.features, n, 128), ref);
  const untrained = generateBatch(new Generator(cfg, new Rng(1)), n, new Rng(opts.seed ?? 12345));
  const frechetUntrained = frechetDistance(gaussianOf(classify(classifier, untrained.images, n).features, n, 128), ref);

  let generatedAccuracy: number | null = null, perClass: EvalReport['perClass'] = null;
  if (cfg.labels && gen.labels) {
    const K = cfg.labels.length;
    const gOk = new Array(K).fill(0), gN = new Array(K).fill(0), rOk = new Array(K).fill(0), rN = new Array(K).fill(0);
    let ok = 0;
    for (let i = 0; i < n; i++) { gN[gen.labels[i]]++; if (genOut.predictions[i] === gen.labels[i]) { ok++; gOk[gen.labels[i]]++; } }
    if (test.labels) for (let i = 0; i < test.count; i++) { rN[test.labels[i]]++; if (realTest.predictions[i] === test.labels[i]) rOk[test.labels[i]]++; }
    generatedAccuracy = ok / n;
    perClass = cfg.labels.map((label, k) => ({ label, real: rN[k] ? rOk[k] / rN[k] : NaN, generated: gN[k] ? gOk[k] / gN[k] : NaN }));
  }
  return {
    model: path.resolve(opts.model), data: spec, generated: n, reference: test.count,
    frechet, frechetUntrained, frechetRealTrain, classifierTestAccuracy: testAcc, generatedAccuracy,
    accuracyRatio: generatedAccuracy !== null && testAcc ? generatedAccuracy / testAcc : null, perClass,
  };
}
