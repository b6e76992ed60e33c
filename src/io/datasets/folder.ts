/**
 * A folder of images (PNG, JPEG, WebP; searched recursively), each resized so its shorter side
 * fits and centre-cropped to size×size. When every image sits in a first-level subfolder, the
 * subfolder names are the class labels (as torchvision's ImageFolder). Files that cannot be
 * decoded are skipped and counted; an empty or unreadable folder is an error.
 */
import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { DataError } from '../../errors.js';
import { decodeImage, IMAGE_EXTENSIONS } from '../images.js';
import type { ImageDataset } from './types.js';

function listImages(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      if (dir === root) throw new DataError(`${root}: cannot read the folder (${(e as Error).message})`);
      return; // unreadable subfolder: nothing from it
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (IMAGE_EXTENSIONS.includes(path.extname(e.name).toLowerCase())) out.push(p);
    }
  };
  walk(root);
  return out;
}

export interface FolderOptions {
  size: number;
  channels: 1 | 3;
  /** Decodes in flight at once (default 8). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

export async function loadImageFolder(root: string, opts: FolderOptions): Promise<ImageDataset> {
  let st;
  try {
    st = statSync(root);
  } catch {
    throw new DataError(`${root}: no such folder`);
  }
  if (!st.isDirectory()) throw new DataError(`${root}: not a folder (give a folder of PNG/JPEG/WebP images, "mnist", or a folder of IDX files)`);
  const files = listImages(root);
  if (!files.length) throw new DataError(`${root}: no images found (looked for ${IMAGE_EXTENSIONS.join(', ')} files, recursively)`);

  const rels = files.map((f) => path.relative(root, f).split(path.sep));
  const labelled = rels.every((r) => r.length >= 2);
  const classNames = labelled ? [...new Set(rels.map((r) => r[0]))].sort() : null;
  const per = opts.channels * opts.size * opts.size;
  const decoded: (Float32Array | null)[] = new Array(files.length).fill(null);
  let next = 0, done = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      try {
        decoded[i] = await decodeImage(files[i], { size: opts.size, channels: opts.channels });
      } catch {
        decoded[i] = null;
      }
      opts.onProgress?.(++done, files.length);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 8 }, worker));
  const ok = decoded.map((d, i) => (d ? i : -1)).filter((i) => i >= 0);
  const skippedFiles = files.filter((_, i) => !decoded[i]);
  if (!ok.length) throw new DataError(`${root}: none of the ${files.length} image files could be decoded (e.g. ${skippedFiles[0]})`);
  const images = new Float32Array(ok.length * per);
  const labels = classNames ? new Int32Array(ok.length) : null;
  ok.forEach((i, k) => {
    images.set(decoded[i]!, k * per);
    if (labels && classNames) labels[k] = classNames.indexOf(rels[i][0]);
  });
  return {
    images, count: ok.length, channels: opts.channels, size: opts.size, labels, classNames,
    source: path.resolve(root), skipped: skippedFiles.length, skippedFiles: skippedFiles.slice(0, 20),
  };
}
