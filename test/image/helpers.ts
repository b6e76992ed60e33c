import type { ImageDataset } from '../../src/io/datasets/types.js';

/** A tiny labelled data set: class 0 "bar" has a vertical bar, class 1 "dot" a centred square. */
export function toyData(count = 40, size = 28): ImageDataset {
  const per = size * size, images = new Float32Array(count * per), labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const c = i % 2, o = i * per, shift = i % 5;
    labels[i] = c;
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
      const on = c === 0 ? Math.abs(x - 10 - shift) < 2 : Math.abs(x - 14) < 4 + (shift % 2) && Math.abs(y - 14) < 4;
      images[o + y * size + x] = on ? 1 : 0;
    }
  }
  return { images, count, channels: 1, size, labels, classNames: ['bar', 'dot'], source: 'toy', skipped: 0 };
}

export const tiny = { preset: 'dcgan28', width: 4, latentDim: 8, batchSize: 8, sampleEvery: 0, checkpointEvery: 0 } as const;
