/**
 * GAN checkpoints: a folder with
 * - `gan.json`: format, GAN config (preset, size, channels, latent size, width, labels),
 *   training state (step, epoch, RNG state, options), data source, loss history, metrics;
 * - `generator.safetensors`, `discriminator.safetensors` (PyTorch-style names);
 * - `optimizer.safetensors`: Adam moments of both networks (`G.<i>.m`, ...) and step counts.
 * Every file is written atomically; the tensors files carry the step in their metadata and a
 * load checks they agree with gan.json. A folder may hold only gan.json + generator (a
 * generation-only model such as the bundled default).
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Tensor } from '../engine/tensor.js';
import { CheckpointError } from '../errors.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../io/safetensors.js';
import type { Module } from '../nn/module.js';
import type { Optimizer } from '../nn/optim.js';
import { VERSION } from '../version.js';
import { Discriminator, Generator } from './gan.js';
import { PRESETS, type GanConfig } from './presets.js';

export const GAN_FORMAT = 'aigc-gan';

export interface HistoryPoint { step: number; dLoss: number; gLoss: number; dReal: number; dFake: number }

export interface GanMeta {
  format: typeof GAN_FORMAT;
  formatVersion: 1;
  software: string;
  config: GanConfig;
  step: number;
  epoch: number;
  /** Batches of the current epoch already done (for exact resumes). */
  batchInEpoch: number;
  seed: number;
  rngState?: number[];
  train?: Record<string, unknown>;
  data?: { source: string; count: number; skipped: number };
  history?: HistoryPoint[];
  metrics?: { step: number; frechet: number }[];
  seconds?: number;
  /** Files present in the folder. */
  files: { generator: string; discriminator?: string; optimizer?: string };
}

function tensorsOf(m: Module): Record<string, TensorToWrite> {
  const out: Record<string, TensorToWrite> = {};
  for (const [k, t] of m.stateDict()) out[k] = { dtype: 'F32', shape: [...t.shape], data: t.data };
  return out;
}

export function saveGan(dir: string, meta: Omit<GanMeta, 'files' | 'format' | 'formatVersion' | 'software'>, G: Generator, D?: Discriminator, opt?: { G: Optimizer; D: Optimizer }): GanMeta {
  const step = String(meta.step);
  writeSafetensors(path.join(dir, 'generator.safetensors'), tensorsOf(G), { format: GAN_FORMAT, step, config: JSON.stringify(G.config) });
  const files: GanMeta['files'] = { generator: 'generator.safetensors' };
  if (D) {
    writeSafetensors(path.join(dir, 'discriminator.safetensors'), tensorsOf(D), { format: GAN_FORMAT, step });
    files.discriminator = 'discriminator.safetensors';
  }
  if (opt) {
    const t: Record<string, TensorToWrite> = {};
    for (const [name, o] of [['G', opt.G], ['D', opt.D]] as const) {
      o.stateDict().buffers.forEach((b, i) => { for (const [k, v] of Object.entries(b)) t[`${name}.${i}.${k}`] = { dtype: 'F32', shape: [v.length], data: v }; });
    }
    writeSafetensors(path.join(dir, 'optimizer.safetensors'), t, { step, G_step: String(opt.G.stepCount), D_step: String(opt.D.stepCount) });
    files.optimizer = 'optimizer.safetensors';
  }
  const full: GanMeta = { format: GAN_FORMAT, formatVersion: 1, software: `aigc ${VERSION}`, ...meta, files };
  writeJsonAtomic(path.join(dir, 'gan.json'), full);
  return full;
}

export function readGanMeta(dir: string): GanMeta {
  const file = path.join(dir, 'gan.json');
  if (!existsSync(file)) throw new CheckpointError(`${dir}: not a GAN model folder (no gan.json)`);
  let meta: GanMeta;
  try {
    meta = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CheckpointError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (meta.format !== GAN_FORMAT) throw new CheckpointError(`${file}: format is "${meta.format}", expected "${GAN_FORMAT}"`);
  const c = meta.config;
  if (!c || !PRESETS.includes(c.preset) || !(c.latentDim > 0) || !(c.imageSize > 0) || !(c.channels === 1 || c.channels === 3)) {
    throw new CheckpointError(`${file}: config is missing or invalid`);
  }
  return meta;
}

function loadInto(m: Module, file: string, step: number | null): void {
  const st = readSafetensors(file);
  if (step !== null && st.metadata.step !== undefined && st.metadata.step !== String(step)) {
    throw new CheckpointError(`${file} is from step ${st.metadata.step} but gan.json says step ${step} (an interrupted save?)`);
  }
  const sd = new Map<string, Tensor>();
  for (const n of st.names()) {
    const info = st.info(n);
    if (info.dtype !== 'F32') throw new CheckpointError(`${file}: tensor ${n} is ${info.dtype}, expected F32`);
    sd.set(n, new Tensor(st.getTyped(n) as Float32Array, info.shape));
  }
  m.loadStateDict(sd, { source: file });
}

/** Loads the generator (and, when asked, the discriminator) of a checkpoint. */
export function loadGan(dir: string, opts: { discriminator?: boolean; expect?: GanConfig } = {}): { meta: GanMeta; G: Generator; D: Discriminator | null } {
  const meta = readGanMeta(dir);
  if (opts.expect) checkSameConfig(opts.expect, meta.config, dir);
  const G = new Generator(meta.config);
  loadInto(G, path.join(dir, meta.files?.generator ?? 'generator.safetensors'), meta.step);
  let D: Discriminator | null = null;
  if (opts.discriminator) {
    if (!meta.files?.discriminator) throw new CheckpointError(`${dir}: holds no discriminator (a generation-only model cannot be resumed)`);
    D = new Discriminator(meta.config);
    loadInto(D, path.join(dir, meta.files.discriminator), meta.step);
  }
  return { meta, G, D };
}

export function loadOptimizers(dir: string, meta: GanMeta, optG: Optimizer, optD: Optimizer): void {
  if (!meta.files.optimizer) throw new CheckpointError(`${dir}: holds no optimizer state`);
  const file = path.join(dir, meta.files.optimizer);
  const st = readSafetensors(file);
  if (st.metadata.step !== String(meta.step)) throw new CheckpointError(`${file} is from step ${st.metadata.step} but gan.json says step ${meta.step}`);
  for (const [name, o] of [['G', optG], ['D', optD]] as const) {
    const cur = o.stateDict();
    const buffers = cur.buffers.map((b, i) => Object.fromEntries(Object.keys(b).map((k) => {
      const n = `${name}.${i}.${k}`;
      if (!st.has(n)) throw new CheckpointError(`${file}: missing ${n}`);
      return [k, st.getTyped(n) as Float32Array];
    })));
    o.loadStateDict({ step: Number(st.metadata[`${name}_step`]), buffers });
  }
}

/** Throws a CheckpointError naming every difference between the wanted and the stored config. */
export function checkSameConfig(want: GanConfig, have: GanConfig, where: string): void {
  const diffs: string[] = [];
  for (const k of ['preset', 'imageSize', 'channels', 'latentDim', 'width', 'output'] as const) {
    if (want[k] !== have[k]) diffs.push(`${k}: checkpoint has ${have[k]}, wanted ${want[k]}`);
  }
  const wl = JSON.stringify(want.labels), hl = JSON.stringify(have.labels);
  if (wl !== hl) diffs.push(`labels: checkpoint has ${hl}, the data ${wl}`);
  if (diffs.length) throw new CheckpointError(`checkpoint ${where} does not fit: ${diffs.join('; ')}`);
}
