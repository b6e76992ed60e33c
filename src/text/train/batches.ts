/**
 * Batches for training and evaluation from tokenized data (see io/textdata.ts).
 *
 * A row is one segment: up to T+1 tokens; inputs are its first T tokens and the target of
 * position t is token t+1 when that token is a training target (mask 1), otherwise -1
 * (ignored by the loss). Short rows are padded with the pad id and ignored targets.
 *
 * Training draws segments in a seeded random order per epoch; the position (epoch, index) and
 * the order's RNG state are all a resume needs to continue with exactly the same batches.
 */
import { Rng } from '../../engine/rng.js';
import { DataError } from '../../errors.js';
import type { TokenizedData } from '../../io/textdata.js';

export const IGNORE = -1;

export interface Batch {
  ids: Int32Array;
  targets: Int32Array;
  /** Target tokens in the batch (not ignored). */
  count: number;
}

/** Fills row `r` of a batch from segment `s`. */
function fillRow(d: TokenizedData, s: number, T: number, ids: Int32Array, targets: Int32Array, r: number, pad: number): number {
  const start = d.segments[2 * s], len = Math.min(d.segments[2 * s + 1], T + 1);
  const o = r * T;
  let count = 0;
  for (let t = 0; t < T; t++) {
    if (t < len) ids[o + t] = d.tokens[start + t];
    else ids[o + t] = pad;
    if (t + 1 < len && d.mask[start + t + 1]) {
      targets[o + t] = d.tokens[start + t + 1];
      count++;
    } else targets[o + t] = IGNORE;
  }
  return count;
}

export class BatchSampler {
  epoch = 0;
  index = 0;
  private order: Uint32Array;
  private readonly nSeg: number;

  constructor(readonly data: TokenizedData, readonly B: number, readonly T: number, readonly seed: number, readonly pad: number) {
    this.nSeg = data.segments.length / 2;
    if (this.nSeg === 0) throw new DataError(`the training data has no rows: it needs more than ${T} tokens, or at least one instruction record`);
    this.order = this.orderFor(0);
  }

  /** The segment order of an epoch: a shuffle seeded by (seed, epoch). */
  private orderFor(epoch: number): Uint32Array {
    const o = new Uint32Array(this.nSeg);
    for (let i = 0; i < o.length; i++) o[i] = i;
    const rng = new Rng(this.seed * 1000003 + epoch * 7919 + 17);
    rng.shuffle(o);
    return o;
  }

  get position(): { epoch: number; index: number } {
    return { epoch: this.epoch, index: this.index };
  }

  setPosition(p: { epoch: number; index: number }): void {
    this.epoch = p.epoch;
    this.index = p.index;
    this.order = this.orderFor(this.epoch);
  }

  next(): Batch {
    const { B, T } = this;
    const ids = new Int32Array(B * T), targets = new Int32Array(B * T);
    let count = 0;
    for (let r = 0; r < B; r++) {
      if (this.index >= this.nSeg) {
        this.epoch++;
        this.index = 0;
        this.order = this.orderFor(this.epoch);
      }
      count += fillRow(this.data, this.order[this.index++], T, ids, targets, r, this.pad);
    }
    return { ids, targets, count };
  }
}

/** Evaluation batches: segments in order, the last batch possibly short (fewer rows). */
export function* evalBatches(d: TokenizedData, B: number, T: number, pad: number, maxBatches = Infinity): Generator<Batch & { rows: number }> {
  const n = d.segments.length / 2;
  for (let s = 0, k = 0; s < n && k < maxBatches; s += B, k++) {
    const rows = Math.min(B, n - s);
    const ids = new Int32Array(rows * T), targets = new Int32Array(rows * T);
    let count = 0;
    for (let r = 0; r < rows; r++) count += fillRow(d, s + r, T, ids, targets, r, pad);
    yield { ids, targets, count, rows };
  }
}
