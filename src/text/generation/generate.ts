/**
 * The token-level generation loop, independent of the tokenizer: greedy decoding and sampling
 * over a batch of prompts (left-padded into one KV cache), with logits processors, EOS, a
 * per-token listener (streaming, stop strings), an AbortSignal, and timings. Beam search lives
 * in beam-search.ts and is dispatched from here.
 */
import { Rng } from '../../engine/rng.js';
import { ConfigError } from '../../errors.js';
import { beamSearch } from './beam-search.js';
import type { DecodeBatcher } from './batcher.js';
import { applyNoRepeatNgram, applyRepetitionPenalty, applyWarpers } from './logits-processors.js';
import type { ResolvedGenerationOptions } from './options.js';
import { argmax, sampleFromLogits } from './sampling.js';

/** A KV cache as the generation loop sees it. */
export interface LMCache {
  readonly length: number;
  readonly capacity: number;
  /** Row i becomes a copy of row src[i]. */
  reorder(src: ArrayLike<number>): void;
}

/** A causal language model with a KV cache (GPT2 is one). */
export interface CausalLM {
  readonly config: { readonly vocabSize: number; readonly nPositions: number };
  newCache(batch: number, capacity?: number): LMCache;
  /** Appends T tokens per row; returns the last position's logits (rows, V), valid until the next call. */
  forwardCached(cache: LMCache, ids: ArrayLike<number>, T: number, opts?: { attentionMask?: ArrayLike<number> }): Float32Array;
}

/** Why a sequence ended: an EOS token, the token budget or context window, a stop string, or the AbortSignal. */
export type FinishReason = 'eos' | 'length' | 'stop' | 'abort';

export interface SequenceOutput {
  /** Generated token ids (an ending EOS included). */
  tokens: number[];
  finishReason: FinishReason;
  /** Beam search: the length-penalised log-probability score. */
  score?: number;
}

export interface GenerationRun {
  /** Per prompt, numReturnSequences outputs (best first for beam search). */
  outputs: SequenceOutput[][];
  /** Prompt token ids as used (after truncation). */
  prompts: number[][];
  prefillMs: number;
  decodeMs: number;
  /** Tokens produced by decode steps (all rows; the first token of each row comes from the prefill). */
  decodeTokens: number;
}

/**
 * Called with each generated token of a row (row = prompt · numReturnSequences + sample),
 * EOS excluded. Returning true ends that row with finishReason 'stop'.
 */
export type TokenListener = (row: number, token: number) => boolean | void;

/**
 * One decode step of a generation loop: the logits after appending one token per row. Through
 * the batcher when there is one (batched with other generations' steps), else directly; either
 * way it takes a turn of the event loop, so an AbortSignal (Ctrl-C, a closed HTTP request) can
 * arrive between tokens.
 */
export async function decodeStep(model: CausalLM, cache: LMCache, ids: ArrayLike<number>, batcher?: DecodeBatcher): Promise<Float32Array> {
  if (batcher) return batcher.step(cache, ids);
  const logits = model.forwardCached(cache, ids, 1);
  await new Promise<void>((resolve) => setImmediate(resolve));
  return logits;
}

/**
 * Checks prompts against the context window: a prompt needs room for at least one new token.
 * With `truncate`, a prompt that leaves no room for maxNewTokens keeps its last tokens; the
 * room kept for new tokens is at most half the window, so a large maxNewTokens does not cut
 * the prompt down to nothing (generation then ends at the window, finishReason 'length').
 */
export function fitPrompts(prompts: number[][], nPositions: number, maxNewTokens: number, truncate: boolean): number[][] {
  const room = Math.max(1, Math.min(maxNewTokens, Math.floor(nPositions / 2)));
  return prompts.map((p, i) => {
    if (p.length === 0) throw new ConfigError(`prompt ${i} is empty (give at least one token)`);
    if (truncate && p.length + room > nPositions) return p.slice(p.length - (nPositions - room));
    if (p.length >= nPositions) {
      throw new ConfigError(`the prompt is ${p.length} tokens but the model's context window is ${nPositions} tokens, which leaves no room for a new token; shorten it or use truncation (--truncate) to keep its last tokens`);
    }
    return p;
  });
}

/** Left-pads rows to one length: ids and mask (1 real, 0 padding), each rows × T. */
export function leftPad(rows: number[][], padId: number): { ids: Int32Array; mask: Uint8Array; T: number; padded: boolean } {
  const T = Math.max(...rows.map((r) => r.length));
  const ids = new Int32Array(rows.length * T).fill(padId);
  const mask = new Uint8Array(rows.length * T);
  let padded = false;
  rows.forEach((r, i) => {
    const off = i * T + (T - r.length);
    ids.set(r, off);
    mask.fill(1, off, (i + 1) * T);
    if (r.length < T) padded = true;
  });
  return { ids, mask, T, padded };
}

/**
 * Runs generation for token prompts; see GenerationOptions for the semantics of every option.
 * With a `batcher` (one per model, shared by concurrent calls), decode steps run batched with
 * those of other generations on the same model; the tokens are the same either way.
 */
export async function generateTokens(
  model: CausalLM, promptsIn: number[][], opts: ResolvedGenerationOptions, onToken?: TokenListener, batcher?: DecodeBatcher,
): Promise<GenerationRun> {
  const { nPositions, vocabSize: V } = model.config;
  const prompts = fitPrompts(promptsIn, nPositions, opts.maxNewTokens, opts.truncate);
  for (const p of prompts) for (const t of p) if (!Number.isInteger(t) || t < 0 || t >= V) throw new ConfigError(`token id ${t} is outside the model's vocabulary of ${V}`);
  if (opts.numBeams > 1) return beamSearch(model, prompts, opts, onToken, batcher);

  const n = opts.numReturnSequences;
  const rowsTokens = prompts.flatMap((p) => Array.from({ length: n }, () => [...p]));
  const N = rowsTokens.length;
  const padId = opts.eosTokenIds[0] ?? 0;
  const { ids, mask, T, padded } = leftPad(rowsTokens, padId);
  const capacity = Math.min(nPositions, T + opts.maxNewTokens);
  const cache = model.newCache(N, capacity);
  const eos = new Set(opts.eosTokenIds);
  const rng = new Rng(opts.seed);
  const generated: number[][] = Array.from({ length: N }, () => []);
  const finished: (FinishReason | null)[] = new Array(N).fill(null);
  const usesProcessors = opts.repetitionPenalty !== 1 || opts.noRepeatNgramSize > 0;
  const row = new Float32Array(V);
  const next = new Int32Array(N);

  const t0 = performance.now();
  let logits = model.forwardCached(cache, ids, T, padded ? { attentionMask: mask } : undefined);
  const prefillMs = performance.now() - t0;
  const t1 = performance.now();
  let decodeTokens = 0, active = N;
  for (let step = 0; ; step++) {
    if (opts.signal?.aborted) {
      for (let r = 0; r < N; r++) if (finished[r] === null) finished[r] = 'abort';
      break;
    }
    for (let r = 0; r < N; r++) {
      if (finished[r] !== null) { next[r] = padId; continue; }
      const src = logits.subarray(r * V, (r + 1) * V);
      let tok: number;
      if (!opts.doSample && !usesProcessors) {
        tok = argmax(src);
      } else {
        row.set(src);
        applyRepetitionPenalty(row, rowsTokens[r], opts.repetitionPenalty);
        applyNoRepeatNgram(row, rowsTokens[r], opts.noRepeatNgramSize);
        if (opts.doSample) {
          applyWarpers(row, opts);
          tok = sampleFromLogits(row, rng);
        } else {
          tok = argmax(row);
        }
      }
      next[r] = tok;
      rowsTokens[r].push(tok);
      generated[r].push(tok);
      if (step > 0) decodeTokens++;
      if (eos.has(tok)) finished[r] = 'eos';
      else if (onToken?.(r, tok) === true) finished[r] = 'stop';
      if (finished[r] !== null) active--;
    }
    if (active === 0) break;
    if (step + 1 >= opts.maxNewTokens || cache.length >= capacity) break;
    logits = await decodeStep(model, cache, next, batcher);
  }
  for (let r = 0; r < N; r++) if (finished[r] === null) finished[r] = 'length';
  const outputs = prompts.map((_, p) => Array.from({ length: n }, (_, s) => ({ tokens: generated[p * n + s], finishReason: finished[p * n + s]! })));
  return { outputs, prompts, prefillMs, decodeMs: performance.now() - t1, decodeTokens };
}
