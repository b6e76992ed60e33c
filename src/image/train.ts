/**
 * GAN training: data loading, the alternating D/G steps (step.ts), fixed-noise sample grids,
 * atomic checkpoints with exact resume, the Fréchet distance of a classifier trained on the
 * same data, and loss curves at the end. Usable from the CLI and from a server job
 * (progress events, AbortSignal: an abort saves a checkpoint and returns).
 */
import { existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { Rng } from '../engine/rng.js';
import { noGrad, Tensor } from '../engine/tensor.js';
import { ConfigError, DataError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadImageData, loadNpmMnist, loadIdxDir, dataKind, conform, FASHION_MNIST_DIR, FASHION_MNIST_CLASSES } from '../io/datasets/index.js';
import type { ImageDataset } from '../io/datasets/types.js';
import { encodePng, gridChw } from '../io/images.js';
import { Adam } from '../nn/optim.js';
import { VERSION } from '../version.js';
import { loadGan, loadOptimizers, readGanMeta, saveGan, type GanMeta, type HistoryPoint } from './checkpoint.js';
import { Classifier, classify, loadClassifier, saveClassifier, trainClassifier } from './classifier.js';
import { frechetDistance, gaussianOf, type Gaussian } from './frechet.js';
import { Discriminator, Generator } from './gan.js';
import { lossCurvesPng } from './plot.js';
import { presetConfig, type GanConfig } from './presets.js';
import { generateFromLatents, latentForSeed, toUnit } from './sample.js';
import { ganStep, type StepStats } from './step.js';

export interface TrainGanOptions {
  /** "mnist", "fashion-mnist", a folder of IDX files, a folder of images, or a loaded data set. */
  data: string | ImageDataset;
  /** Output folder: checkpoint, samples/, loss_curves.png, classifier/. */
  out: string;
  /** Default: dcgan28 for 28×28 data sets (MNIST, IDX), dcgan64 for image folders. */
  preset?: string;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  beta1?: number;
  /** One-sided label smoothing: real target 1 − s (default 0). */
  labelSmoothing?: number;
  seed?: number;
  latentDim?: number;
  width?: number;
  /** 1 or 3; default: the preset's (dcgan28: 1, others 3). */
  channels?: number;
  /** Train a conditional GAN when the data has labels (default true). */
  conditional?: boolean;
  /** Write a fixed-noise sample grid every N steps (default 200; 0: only at the end). */
  sampleEvery?: number;
  /** Write a checkpoint every N steps (default 500; always at epoch ends and at the end). */
  checkpointEvery?: number;
  /** Fréchet distance at every epoch end (default true when the data has labels). */
  metric?: boolean;
  /** Generated images for the in-training Fréchet distance (default 1000). */
  metricSamples?: number;
  /** Folder of a trained classifier to use for the metric (default: train one into out/classifier). */
  classifier?: string;
  /** Continue from the checkpoint in `out`. */
  resume?: boolean;
  /** Stop after this many steps in total (for tests and smoke runs). */
  maxSteps?: number;
  /** Use only the first N images (after a seeded shuffle). */
  limit?: number;
}

export type TrainEvent =
  | { type: 'load'; done: number; total: number }
  | { type: 'data'; count: number; skipped: number; source: string; classNames: string[] | null; skippedFiles?: string[] }
  | { type: 'classifier'; testAccuracy?: number; seconds: number; trained: boolean }
  | { type: 'start'; step: number; totalSteps: number; stepsPerEpoch: number; config: GanConfig; resumed: boolean }
  | ({ type: 'step'; step: number; totalSteps: number; epoch: number; ms: number } & StepStats)
  | { type: 'sample'; step: number; path: string }
  | { type: 'checkpoint'; step: number; dir: string }
  | { type: 'metric'; step: number; frechet: number }
  | { type: 'epoch'; epoch: number; step: number };

export interface TrainResult {
  out: string;
  steps: number;
  epochs: number;
  aborted: boolean;
  seconds: number;
  frechet: number | null;
  lossCurves: string;
  lastSample: string | null;
}

export interface TrainHooks {
  onProgress?: (e: TrainEvent) => void;
  signal?: AbortSignal;
}

const SAMPLE_COLS = 8;

function defaultPreset(data: string | ImageDataset): string {
  if (typeof data !== 'string') return data.size === 28 ? 'dcgan28' : data.size === 32 ? 'dcgan32' : 'dcgan64';
  return dataKind(data) === 'folder' ? 'dcgan64' : 'dcgan28';
}

/** Test split for the metric: MNIST/IDX test images, else (up to 2000 of) the training data. */
async function referenceData(spec: string | ImageDataset, train: ImageDataset): Promise<ImageDataset> {
  if (typeof spec === 'string') {
    const kind = dataKind(spec);
    if (kind === 'mnist') return conform(loadNpmMnist('test'), train.size, train.channels as 1 | 3);
    if (kind === 'idx') {
      const dir = spec === 'fashion-mnist' ? FASHION_MNIST_DIR : spec;
      try {
        return conform(loadIdxDir(dir, 'test', spec === 'fashion-mnist' ? [...FASHION_MNIST_CLASSES] : undefined), train.size, train.channels as 1 | 3);
      } catch { /* no test files: fall through */ }
    }
  }
  const n = Math.min(train.count, 2000), per = train.channels * train.size * train.size;
  return { ...train, count: n, images: train.images.subarray(0, n * per), labels: train.labels ? train.labels.subarray(0, n) : null };
}

/** Images (count, C, H, W) in [0, 1] generated in batches (eval mode), with their labels. */
export function generateBatch(G: Generator, count: number, rng: Rng, truncation?: number): { images: Float32Array; labels: Int32Array | null } {
  const cfg = G.config, K = cfg.labels?.length ?? 0, per = cfg.channels * cfg.imageSize * cfg.imageSize;
  const images = new Float32Array(count * per), labels = K ? new Int32Array(count) : null;
  const wasTraining = G.training;
  G.eval();
  try {
    for (let s = 0; s < count; s += 100) {
      const n = Math.min(100, count - s);
      const z = new Float32Array(n * cfg.latentDim);
      for (let i = 0; i < n; i++) z.set(latentForSeed(rng.nextU32(), cfg.latentDim, truncation), i * cfg.latentDim);
      let lab: Int32Array | null = null;
      if (labels) { lab = new Int32Array(n); for (let i = 0; i < n; i++) lab[i] = labels[s + i] = (s + i) % K; }
      const out = noGrad(() => G.forward(new Tensor(z, [n, cfg.latentDim]), lab));
      images.set(toUnit(G, out), s * per);
    }
  } finally {
    G.train(wasTraining);
  }
  return { images, labels };
}

export function frechetOf(c: Classifier, images: Float32Array, count: number, ref: Gaussian): number {
  const { features } = classify(c, images, count);
  return frechetDistance(gaussianOf(features, count, ref.dim), ref);
}

function seededSubset(ds: ImageDataset, n: number, seed: number): ImageDataset {
  if (n >= ds.count) return ds;
  const idx = Int32Array.from({ length: ds.count }, (_, i) => i);
  new Rng(seed).shuffle(idx);
  const per = ds.channels * ds.size * ds.size;
  const images = new Float32Array(n * per), labels = ds.labels ? new Int32Array(n) : null;
  for (let i = 0; i < n; i++) {
    images.set(ds.images.subarray(idx[i] * per, (idx[i] + 1) * per), i * per);
    if (labels) labels[i] = ds.labels![idx[i]];
  }
  return { ...ds, images, labels, count: n };
}

export async function trainGan(opts: TrainGanOptions, hooks: TrainHooks = {}): Promise<TrainResult> {
  const t0 = performance.now();
  const emit = hooks.onProgress ?? (() => {});
  const out = opts.out;
  mkdirSync(path.join(out, 'samples'), { recursive: true });
  const seed = opts.seed ?? 0;
  const batchSize = opts.batchSize ?? 64;
  if (!Number.isInteger(batchSize) || batchSize < 2) throw new ConfigError(`batch size must be an integer >= 2, got ${batchSize}`);

  // Resume: the checkpoint decides the architecture unless the caller named one (then it must fit).
  let resumeMeta: GanMeta | null = null;
  if (opts.resume) {
    if (!existsSync(path.join(out, 'gan.json'))) throw new ConfigError(`--resume: ${out} holds no checkpoint (no gan.json)`);
    resumeMeta = readGanMeta(out);
  }
  const presetName = opts.preset ?? resumeMeta?.config.preset ?? defaultPreset(opts.data);
  const base = presetConfig(presetName, { channels: opts.channels ?? resumeMeta?.config.channels, latentDim: opts.latentDim ?? resumeMeta?.config.latentDim, width: opts.width ?? resumeMeta?.config.width });

  let data = typeof opts.data === 'string'
    ? await loadImageData(opts.data, {
      size: base.imageSize, channels: base.channels as 1 | 3, split: 'train',
      onProgress: (done, total) => { if (done % 500 === 0 || done === total) emit({ type: 'load', done, total }); },
    })
    : await conform(opts.data, base.imageSize, base.channels as 1 | 3);
  if (opts.limit) data = seededSubset(data, opts.limit, seed);
  emit({ type: 'data', count: data.count, skipped: data.skipped, source: data.source, classNames: data.classNames, skippedFiles: data.skippedFiles });
  if (data.count < batchSize) throw new DataError(`${data.source}: ${data.count} images is fewer than one batch of ${batchSize}`);

  const conditional = (opts.conditional ?? true) && data.labels !== null && data.classNames !== null;
  const cfg: GanConfig = { ...base, labels: conditional ? data.classNames : null };

  const rng = new Rng(seed);
  let G: Generator, D: Discriminator;
  let step = 0, epoch = 0, batchInEpoch = 0;
  let history: HistoryPoint[] = [], metrics: { step: number; frechet: number }[] = [];
  let secondsBefore = 0;
  if (resumeMeta) {
    const loaded = loadGan(out, { discriminator: true, expect: cfg });
    G = loaded.G; D = loaded.D!;
    step = resumeMeta.step; epoch = resumeMeta.epoch; batchInEpoch = resumeMeta.batchInEpoch;
    history = resumeMeta.history ?? []; metrics = resumeMeta.metrics ?? [];
    secondsBefore = resumeMeta.seconds ?? 0;
    if (resumeMeta.rngState) rng.setState(resumeMeta.rngState);
  } else {
    G = new Generator(cfg, new Rng(seed + 1));
    D = new Discriminator(cfg, new Rng(seed + 2));
  }
  const lr = opts.lr ?? 2e-4, beta1 = opts.beta1 ?? 0.5;
  const optG = new Adam(G.parameters(), { lr, beta1 }), optD = new Adam(D.parameters(), { lr, beta1 });
  if (resumeMeta) loadOptimizers(out, resumeMeta, optG, optD);
  const state = { G, D, optG, optD, rng };

  // The classifier and reference statistics for the Fréchet distance.
  let classifier: Classifier | null = null, refStats: Gaussian | null = null;
  if ((opts.metric ?? true) && data.labels && data.classNames) {
    const cdir = opts.classifier ?? path.join(out, 'classifier');
    const ref = await referenceData(opts.data, data);
    if (existsSync(path.join(cdir, 'classifier.json'))) {
      const c = loadClassifier(cdir);
      classifier = c.classifier;
      emit({ type: 'classifier', testAccuracy: c.meta.testAccuracy, seconds: 0, trained: false });
    } else {
      const c = trainClassifier(data, { seed, test: ref });
      saveClassifier(cdir, c.classifier, c.meta);
      classifier = c.classifier;
      emit({ type: 'classifier', testAccuracy: c.meta.testAccuracy, seconds: c.meta.seconds, trained: true });
    }
    refStats = gaussianOf(classify(classifier, ref.images, ref.count).features, ref.count, 128);
  }

  const stepsPerEpoch = Math.floor(data.count / batchSize);
  const epochs = opts.epochs ?? 5;
  const totalSteps = Math.min(epochs * stepsPerEpoch, opts.maxSteps ?? Infinity);
  emit({ type: 'start', step, totalSteps, stepsPerEpoch, config: cfg, resumed: resumeMeta !== null });

  // Fixed noise for sample grids: one row per class (conditional) or an 8×8 grid.
  const K = cfg.labels?.length ?? 0;
  const nSamples = K ? K * SAMPLE_COLS : 64;
  const fixedZ = Array.from({ length: nSamples }, (_, i) => latentForSeed(seed * 7919 + 1_000_003 + (K ? i % SAMPLE_COLS : i), cfg.latentDim));
  const fixedLabels = Array.from({ length: nSamples }, (_, i) => (K ? Math.floor(i / SAMPLE_COLS) : null));
  let lastSample: string | null = null;
  const writeSamples = async (): Promise<void> => {
    const imgs = generateFromLatents(G, fixedZ, fixedLabels);
    const grid = gridChw(imgs, cfg.channels, cfg.imageSize, SAMPLE_COLS);
    const png = await encodePng(grid.data, cfg.channels, grid.height, grid.width, { text: { Software: `aigc ${VERSION}`, Comment: `fixed-noise samples at step ${step}` } });
    lastSample = path.join(out, 'samples', `step-${String(step).padStart(6, '0')}.png`);
    writeFileAtomic(lastSample, png);
    emit({ type: 'sample', step, path: lastSample });
  };
  const measure = (): number | null => {
    if (!classifier || !refStats) return null;
    const n = opts.metricSamples ?? 1000;
    const gen = generateBatch(G, n, new Rng(seed + 777));
    const fd = frechetOf(classifier, gen.images, n, refStats);
    metrics.push({ step, frechet: Math.round(fd * 1000) / 1000 });
    emit({ type: 'metric', step, frechet: fd });
    return fd;
  };
  const elapsed = () => secondsBefore + (performance.now() - t0) / 1000;
  const checkpoint = (): void => {
    saveGan(out, {
      config: cfg, step, epoch, batchInEpoch, seed, rngState: rng.getState(),
      train: { preset: cfg.preset, epochs, batchSize, lr, beta1, labelSmoothing: opts.labelSmoothing ?? 0, data: typeof opts.data === 'string' ? opts.data : data.source, limit: opts.limit },
      data: { source: data.source, count: data.count, skipped: data.skipped },
      history, metrics, seconds: Math.round(elapsed()),
    }, G, D, { G: optG, D: optD });
    emit({ type: 'checkpoint', step, dir: out });
  };

  const per = cfg.channels * cfg.imageSize * cfg.imageSize;
  const x = new Float32Array(batchSize * per), y = data.labels ? new Int32Array(batchSize) : null;
  const scale = cfg.output === 'tanh';
  const sampleEvery = opts.sampleEvery ?? 200, checkpointEvery = opts.checkpointEvery ?? 500;
  const acc = { n: 0, dLoss: 0, gLoss: 0, dReal: 0, dFake: 0 };
  let aborted = false;
  if (step === 0) await writeSamples();

  outer: while (step < totalSteps) {
    const order = Int32Array.from({ length: data.count }, (_, i) => i);
    new Rng(seed * 1000 + epoch + 17).shuffle(order); // the epoch's order depends only on (seed, epoch): exact resumes
    for (; batchInEpoch < stepsPerEpoch && step < totalSteps; batchInEpoch++) {
      if (hooks.signal?.aborted) { aborted = true; break outer; }
      for (let i = 0; i < batchSize; i++) {
        const k = order[batchInEpoch * batchSize + i];
        const src = data.images.subarray(k * per, (k + 1) * per);
        if (scale) for (let j = 0; j < per; j++) x[i * per + j] = src[j] * 2 - 1;
        else x.set(src, i * per);
        if (y) y[i] = data.labels![k];
      }
      const ts = performance.now();
      const s = ganStep(state, new Tensor(x, [batchSize, cfg.channels, cfg.imageSize, cfg.imageSize]), conditional ? y : null, { labelSmoothing: opts.labelSmoothing });
      step++;
      acc.n++; acc.dLoss += s.dLoss; acc.gLoss += s.gLoss; acc.dReal += s.dReal; acc.dFake += s.dFake;
      if (acc.n === 10 || step === totalSteps) {
        const r = (v: number) => Math.round((v / acc.n) * 1e4) / 1e4;
        history.push({ step, dLoss: r(acc.dLoss), gLoss: r(acc.gLoss), dReal: r(acc.dReal), dFake: r(acc.dFake) });
        acc.n = acc.dLoss = acc.gLoss = acc.dReal = acc.dFake = 0;
      }
      emit({ type: 'step', step, totalSteps, epoch, ms: performance.now() - ts, ...s });
      if (sampleEvery > 0 && step % sampleEvery === 0) await writeSamples();
      if (checkpointEvery > 0 && step % checkpointEvery === 0) checkpoint();
      await new Promise((r) => setImmediate(r)); // let progress output, timers and aborts through
    }
    if (batchInEpoch >= stepsPerEpoch) {
      epoch++;
      batchInEpoch = 0;
      emit({ type: 'epoch', epoch, step });
      measure();
      checkpoint();
    }
  }
  if (!metrics.length || metrics[metrics.length - 1].step !== step) measure();
  await writeSamples();
  checkpoint();
  const curves = path.join(out, 'loss_curves.png');
  writeFileAtomic(curves, await lossCurvesPng(history, `aigc image train: ${cfg.preset} on ${data.source}`, metrics));
  return {
    out, steps: step, epochs: epoch, aborted, seconds: Math.round(elapsed()),
    frechet: metrics.length ? metrics[metrics.length - 1].frechet : null, lossCurves: curves, lastSample,
  };
}
