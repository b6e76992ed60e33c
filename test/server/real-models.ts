/**
 * The real models the server tests run: the text engineer's tiny GPT-2 fixture (or the bundled
 * default text model), and the bundled image model or, until one ships, a tiny DCGAN trained
 * for a few steps here with the image pipeline's own trainer.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBuilt, ROOT } from './build.js';

export const TEXT_MODEL_DIR = path.join(ROOT, 'test/fixtures/gpt2-tiny');
export const TEXT_MODEL_ID = 'gpt2-tiny';

export async function imageModelDir(): Promise<string> {
  const bundled = path.join(ROOT, 'models/image-default');
  if (existsSync(path.join(bundled, 'gan.json'))) return bundled;
  // Cached across runs, keyed by the code that defines the checkpoint format.
  const h = createHash('sha256');
  for (const f of ['checkpoint.ts', 'gan.ts', 'presets.ts', 'keras.ts']) {
    const p = path.join(ROOT, 'src/image', f);
    if (existsSync(p)) h.update(readFileSync(p));
  }
  const dir = path.join(os.tmpdir(), `aigc-server-test-gan-${process.getuid?.() ?? 0}-${h.digest('hex').slice(0, 8)}`);
  if (existsSync(path.join(dir, 'gan.json'))) return dir;
  const trainModule = '../../src/image/train.js';
  const { trainGan } = (await import(/* @vite-ignore */ trainModule)) as { trainGan(o: Record<string, unknown>, h?: object): Promise<unknown> };
  await trainGan({ data: 'mnist', out: dir, preset: 'dcgan28', maxSteps: 2, batchSize: 16, limit: 256, sampleEvery: 0, checkpointEvery: 0, metric: false, seed: 1 });
  return dir;
}

/** Builds dist/ if needed and returns the model locations. */
export async function realModels(): Promise<{ text: string; image: string }> {
  ensureBuilt();
  return { text: TEXT_MODEL_DIR, image: await imageModelDir() };
}
