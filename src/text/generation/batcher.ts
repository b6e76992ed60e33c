/**
 * Batches the decode steps of concurrent generations on one model. Each generation keeps its
 * own KV cache and asks for its next logits with `step(cache, ids)`; the steps asked for during
 * one turn of the event loop run as one forward (`forwardDecodeMany`), so a decode step streams
 * the weights once for all of them: four streams cost about what one does while decode is bound
 * by memory. A lone generation pays one setImmediate per token, as its loop yields anyway (so
 * an AbortSignal can arrive).
 *
 * Results do not depend on the company: every row of a step gets the numbers it would get
 * alone (the kernels compute each row the same way at any batch size up to `maxRows`).
 */
import type { CausalLM, LMCache } from './generate.js';

/** A model that can run one decode step over several caches at once (GPT2 can). */
export interface BatchDecodeLM extends CausalLM {
  forwardDecodeMany(segments: readonly { cache: LMCache; ids: ArrayLike<number> }[]): Float32Array[];
}

export function canBatchDecode(model: CausalLM): model is BatchDecodeLM {
  return typeof (model as Partial<BatchDecodeLM>).forwardDecodeMany === 'function';
}

interface Pending {
  cache: LMCache;
  ids: ArrayLike<number>;
  resolve: (logits: Float32Array) => void;
  reject: (e: unknown) => void;
}

export class DecodeBatcher {
  private pending: Pending[] = [];
  private scheduled = false;

  /**
   * @param model the model every cache belongs to.
   * @param maxRows most rows in one forward (more wait for the next): 64, the rows up to which
   *   the native linears stream the weights (and compute each row as a lone row would).
   */
  constructor(private readonly model: BatchDecodeLM, private readonly maxRows = 64) {}

  /** The logits (rows of `cache`, V) after appending `ids` (one token per row): valid until the cache's next step. */
  step(cache: LMCache, ids: ArrayLike<number>): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      this.pending.push({ cache, ids: Int32Array.from(ids), resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.pending;
    this.pending = [];
    while (all.length) {
      const group: Pending[] = [];
      let rows = 0;
      while (all.length && (group.length === 0 || rows + all[0].ids.length <= this.maxRows)) {
        rows += all[0].ids.length;
        group.push(all.shift()!);
      }
      this.run(group);
    }
  }

  private run(group: Pending[]): void {
    let outs: Float32Array[];
    try {
      outs = this.model.forwardDecodeMany(group.map(({ cache, ids }) => ({ cache, ids })));
    } catch (e) {
      // One bad step (a full cache, a bad id) must not fail the others: run each alone.
      // forwardDecodeMany checks every cache before it writes to any, so none has moved.
      if (group.length > 1) for (const p of group) this.run([p]);
      else group[0].reject(e);
      return;
    }
    group.forEach((p, i) => p.resolve(outs[i]));
  }
}
