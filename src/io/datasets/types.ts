/** An image data set held in memory: what the GAN trainer, the classifier and the metric read. */
export interface ImageDataset {
  /** count × channels × size × size float32 values in [0, 1], image after image (NCHW). */
  images: Float32Array;
  count: number;
  channels: number;
  size: number;
  /** Class index per image, or null when the data has no labels. */
  labels: Int32Array | null;
  /** Class names (index -> name), or null. */
  classNames: string[] | null;
  /** Where it came from (for checkpoints and model cards). */
  source: string;
  /** Files that could not be decoded and were skipped. */
  skipped: number;
  /** Paths of (up to 20) skipped files, for messages. */
  skippedFiles?: string[];
}

/** The images i..j as a view (no copy). */
export function imageRange(ds: ImageDataset, start: number, end: number): Float32Array {
  const per = ds.channels * ds.size * ds.size;
  return ds.images.subarray(start * per, end * per);
}
