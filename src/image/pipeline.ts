/**
 * The image-generation library API (used by the CLI and the server):
 *
 * ```ts
 * const gen = await imageGeneration();            // the bundled default model
 * const [img] = await gen.generate({ seed: 7, label: '3' });
 * fs.writeFileSync('three.png', img.png);        // PNG with model/seed/label/version text chunks
 * ```
 * and `trainGan(opts, { onProgress, signal })` for training jobs.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';
import { encodePng, gridChw } from '../io/images.js';
import { VERSION } from '../version.js';
import { loadGan, type GanMeta } from './checkpoint.js';
import { generateFromLatents, latentForSeed, resolveLabel, slerp } from './sample.js';

export { trainGan, type TrainGanOptions, type TrainEvent, type TrainResult, type TrainHooks } from './train.js';
export { PRESETS as GAN_PRESETS, presetConfig as ganPresetConfig, type GanConfig, type PresetName } from './presets.js';

/** The bundled default model (models/image-default in the package). */
export const DEFAULT_IMAGE_MODEL = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models/image-default');

export interface GeneratedImage {
  png: Buffer;
  seed: number;
  label: string | null;
}

export interface ImageGenerateOptions {
  /** Number of images (default 1); image i uses seed + i. */
  count?: number;
  /** Seed of the first image (default: random). */
  seed?: number;
  /** Class name or index, for conditional models. Default: each image's class comes from its seed. */
  label?: string | number;
  /** Truncation threshold for the latent (e.g. 0.7); default none. */
  truncation?: number;
}

export interface ImageInterpolateOptions {
  seedA: number;
  seedB: number;
  /** Images including both ends (>= 2). */
  steps: number;
  label?: string | number;
  truncation?: number;
}

export interface ImageGenerator {
  /** Class names of a conditional model, else null. */
  labels: string[] | null;
  imageSize: number;
  channels: number;
  /** The model folder. */
  modelDir: string;
  meta: GanMeta;
  generate(opts?: ImageGenerateOptions): Promise<GeneratedImage[]>;
  interpolate(opts: ImageInterpolateOptions): Promise<GeneratedImage[]>;
  /** The images as one PNG grid (default 8 columns). */
  grid(images: GeneratedImage[], cols?: number): Promise<Buffer>;
  /** Raw pixels (CHW in [0, 1]) for one seed, for tests and tools. */
  pixels(seed: number, label?: string | number, truncation?: number): Float32Array;
}

const MAX_COUNT = 10_000;

function checkSeed(seed: number, what = 'seed'): void {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new ConfigError(`${what} must be a non-negative integer, got ${seed}`);
}

/** Loads a generator from a model folder (default: the bundled model). */
export async function imageGeneration(modelDir?: string): Promise<ImageGenerator> {
  const dir = path.resolve(modelDir ?? DEFAULT_IMAGE_MODEL);
  if (!existsSync(path.join(dir, 'gan.json'))) {
    throw new ConfigError(modelDir
      ? `${dir}: not an image model folder (no gan.json); train one with "aigc image train --data mnist --out DIR"`
      : `the bundled image model is missing (${dir}); reinstall aigc or pass --model DIR`);
  }
  const { meta, G } = loadGan(dir);
  G.eval();
  const cfg = G.config;
  const K = cfg.labels?.length ?? 0;
  const modelName = `${path.basename(dir)} (${cfg.preset}${K ? `, ${K} classes` : ''}, step ${meta.step})`;

  const labelFor = (seed: number, requested: number | null): number | null => {
    if (!K) return null;
    if (requested !== null) return requested;
    return seed % K; // unrequested: spread over the classes, determined by the seed
  };
  const render = async (imgs: Float32Array[], seeds: number[], labels: (number | null)[], extra: Record<string, string> = {}, seedText?: string[]): Promise<GeneratedImage[]> =>
    Promise.all(imgs.map(async (img, i) => {
      const label = labels[i] === null ? null : cfg.labels![labels[i]!];
      const text: Record<string, string> = {
        Software: `aigc ${VERSION}`,
        'aigc:model': modelName,
        'aigc:seed': seedText ? seedText[i] : String(seeds[i]),
        ...(label !== null ? { 'aigc:label': label } : {}),
        ...extra,
      };
      return { png: await encodePng(img, cfg.channels, cfg.imageSize, cfg.imageSize, { text }), seed: seeds[i], label };
    }));

  const gen: ImageGenerator = {
    labels: cfg.labels ? [...cfg.labels] : null,
    imageSize: cfg.imageSize,
    channels: cfg.channels,
    modelDir: dir,
    meta,
    async generate(opts = {}) {
      const count = opts.count ?? 1;
      if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT) throw new ConfigError(`count must be an integer in 1..${MAX_COUNT}, got ${count}`);
      const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
      checkSeed(seed);
      const req = resolveLabel(cfg.labels, opts.label);
      const seeds = Array.from({ length: count }, (_, i) => seed + i);
      const labels = seeds.map((s) => labelFor(s, req));
      const imgs = generateFromLatents(G, seeds.map((s) => latentForSeed(s, cfg.latentDim, opts.truncation)), labels);
      return render(imgs, seeds, labels, opts.truncation !== undefined ? { 'aigc:truncation': String(opts.truncation) } : {});
    },
    async interpolate(opts) {
      checkSeed(opts.seedA, 'seedA'); checkSeed(opts.seedB, 'seedB');
      if (!Number.isInteger(opts.steps) || opts.steps < 2 || opts.steps > 1000) throw new ConfigError(`steps must be an integer in 2..1000, got ${opts.steps}`);
      const req = resolveLabel(cfg.labels, opts.label);
      const za = latentForSeed(opts.seedA, cfg.latentDim, opts.truncation), zb = latentForSeed(opts.seedB, cfg.latentDim, opts.truncation);
      const lab = labelFor(opts.seedA, req);
      const zs = Array.from({ length: opts.steps }, (_, i) => slerp(za, zb, i / (opts.steps - 1)));
      const imgs = generateFromLatents(G, zs, zs.map(() => lab));
      const ts = zs.map((_, i) => `${opts.seedA}->${opts.seedB} t=${(i / (opts.steps - 1)).toFixed(4)}`);
      return render(imgs, zs.map(() => opts.seedA), zs.map(() => lab), opts.truncation !== undefined ? { 'aigc:truncation': String(opts.truncation) } : {}, ts);
    },
    async grid(images, cols = 8) {
      if (!images.length) throw new ConfigError('grid: no images');
      const sharp = (await import('sharp')).default;
      const planes = await Promise.all(images.map(async (im) => {
        const { data, info } = await sharp(im.png).raw().toBuffer({ resolveWithObject: true });
        const n = info.width * info.height, c = info.channels, out = new Float32Array(cfg.channels * n);
        for (let k = 0; k < cfg.channels; k++) for (let i = 0; i < n; i++) out[k * n + i] = data[i * c + Math.min(k, c - 1)] / 255;
        return out;
      }));
      const g = gridChw(planes, cfg.channels, cfg.imageSize, cols);
      const seeds = images.map((im) => im.seed).join(',');
      const labels = images.map((im) => im.label ?? '').join(',');
      return encodePng(g.data, cfg.channels, g.height, g.width, {
        text: { Software: `aigc ${VERSION}`, 'aigc:model': modelName, 'aigc:seeds': seeds, ...(K ? { 'aigc:labels': labels } : {}) },
      });
    },
    pixels(seed, label, truncation) {
      checkSeed(seed);
      const lab = labelFor(seed, resolveLabel(cfg.labels, label));
      return generateFromLatents(G, [latentForSeed(seed, cfg.latentDim, truncation)], [lab])[0];
    },
  };
  return gen;
}


