/**
 * Beam search with Hugging Face semantics (BeamSearchScorer / BeamHypotheses):
 * - each step, every beam's log-softmax scores (after the repetition / n-gram processors) plus
 *   the beam's running score compete; the top max(2, 1 + #eos)·numBeams candidates are walked in
 *   order: an EOS candidate ranked within the first numBeams becomes a finished hypothesis,
 *   other tokens continue as beams until numBeams are chosen;
 * - beam sampling (doSample): the warpers (temperature, top-k, top-p, ...) apply to each beam's
 *   log-probabilities first, and the candidates are drawn from softmax(score) over all beams
 *   without replacement (Gumbel top-k: the top keys of score + Gumbel noise), then walked in
 *   order of score as above;
 * - a hypothesis scores sum_logprobs / generated_len^lengthPenalty, generated_len counting the
 *   new tokens (the EOS included); at most numBeams are kept per prompt;
 * - earlyStopping true: a prompt is done once numBeams hypotheses exist; false: when the best
 *   running beam, at the current length, cannot beat the worst kept hypothesis; 'never': the
 *   same bound taken at the maximum length (lengthPenalty > 0);
 * - at the end, open beams are added as hypotheses and the best numReturnSequences returned.
 * Initially only the first beam of each prompt is live (the others start at -1e9).
 *
 * Streaming: a token is certain once every live beam and every kept hypothesis of a prompt has
 * it at that position (every output then starts with it), so the listener gets that common
 * prefix as it grows, for each output row, and the rest of each output at the end.
 */
import type { DecodeBatcher } from './batcher.js';
import { Rng } from '../../engine/rng.js';
import type { CausalLM, FinishReason, GenerationRun, SequenceOutput, TokenListener } from './generate.js';
import { decodeStep, leftPad } from './generate.js';
import { applyNoRepeatNgram, applyRepetitionPenalty, applyWarpers } from './logits-processors.js';
import type { ResolvedGenerationOptions } from './options.js';
import { logSoftmax } from './sampling.js';

interface Hypothesis { tokens: number[]; score: number; eos: boolean }

class Hypotheses {
  beams: Hypothesis[] = [];
  worst = 1e9;
  done = false;
  constructor(readonly numBeams: number, readonly lengthPenalty: number, readonly earlyStopping: boolean | 'never', readonly maxNew: number) {}

  add(tokens: number[], sumLogprobs: number, generatedLen: number, eos: boolean): void {
    const score = sumLogprobs / generatedLen ** this.lengthPenalty;
    if (this.beams.length < this.numBeams || score > this.worst) {
      this.beams.push({ tokens, score, eos });
      if (this.beams.length > this.numBeams) {
        const sorted = this.beams.map((b, i) => [b.score, i] as const).sort((a, b) => a[0] - b[0]);
        this.beams.splice(sorted[0][1], 1);
        this.worst = sorted[1][0];
      } else {
        this.worst = Math.min(score, this.worst);
      }
    }
  }

  isDone(bestSumLogprobs: number, generatedLen: number): boolean {
    if (this.beams.length < this.numBeams) return false;
    if (this.earlyStopping === true) return true;
    const len = this.earlyStopping === 'never' && this.lengthPenalty > 0 ? this.maxNew : generatedLen;
    return this.worst >= bestSumLogprobs / len ** this.lengthPenalty;
  }
}


/** Score of a dead beam (the initial copies of each prompt, or beams a sampling step cannot fill). */
const DEAD = -1e9;

/** Beam search over token prompts; with a `batcher`, its steps batch with other generations' (see generate.ts). */
export async function beamSearch(
  model: CausalLM, prompts: number[][], opts: ResolvedGenerationOptions, onToken?: TokenListener, batcher?: DecodeBatcher,
): Promise<GenerationRun> {
  const V = model.config.vocabSize, K = opts.numBeams, P = prompts.length, N = P * K, n = opts.numReturnSequences;
  const padId = opts.eosTokenIds[0] ?? 0;
  const eos = new Set(opts.eosTokenIds);
  const rowsTokens = prompts.flatMap((p) => Array.from({ length: K }, () => [...p]));
  let generated: number[][] = Array.from({ length: N }, () => []);
  const { ids, mask, T, padded } = leftPad(rowsTokens, padId);
  const capacity = Math.min(model.config.nPositions, T + opts.maxNewTokens);
  const maxNew = capacity - T;
  const cache = model.newCache(N, capacity);
  const hyps = prompts.map(() => new Hypotheses(K, opts.lengthPenalty, opts.earlyStopping, maxNew));
  let beamScores = new Float64Array(N);
  for (let p = 0; p < P; p++) for (let k = 1; k < K; k++) beamScores[p * K + k] = DEAD;
  const nCand = Math.max(2, 1 + eos.size) * K;
  const lp = new Float32Array(V);
  const candKey = new Float64Array(nCand), candScore = new Float64Array(nCand), candRow = new Int32Array(nCand), candTok = new Int32Array(nCand);
  const rng = new Rng(opts.seed);
  const stream = new BeamStream(P, n, eos, onToken);

  const t0 = performance.now();
  let logits = model.forwardCached(cache, ids, T, padded ? { attentionMask: mask } : undefined);
  const prefillMs = performance.now() - t0;
  const t1 = performance.now();
  let aborted = false, decodeTokens = 0;
  for (let step = 0; step < maxNew; step++) {
    if (opts.signal?.aborted) { aborted = true; break; }
    const src = new Int32Array(N), next = new Int32Array(N).fill(padId), nextScores = new Float64Array(N);
    for (let p = 0; p < P; p++) {
      const h = hyps[p];
      if (h.done) { for (let k = 0; k < K; k++) src[p * K + k] = p * K + k; continue; }
      // The top nCand of the K×V candidates by key (the score, plus Gumbel noise when sampling),
      // kept sorted descending in a small insertion list.
      let filled = 0;
      for (let k = 0; k < K; k++) {
        const r = p * K + k;
        logSoftmax(logits.subarray(r * V, (r + 1) * V), lp);
        applyRepetitionPenalty(lp, rowsTokens[r], opts.repetitionPenalty);
        applyNoRepeatNgram(lp, rowsTokens[r], opts.noRepeatNgramSize);
        if (opts.doSample) applyWarpers(lp, opts);
        const base = beamScores[r];
        for (let t = 0; t < V; t++) {
          const s = lp[t] + base;
          if (opts.doSample && s === -Infinity) continue; // masked by a warper: never drawn
          const key = opts.doSample ? s - Math.log(-Math.log(rng.random())) : s;
          if (filled === nCand && !(key > candKey[filled - 1])) continue;
          let j = filled < nCand ? filled++ : nCand - 1;
          while (j > 0 && candKey[j - 1] < key) {
            candKey[j] = candKey[j - 1]; candScore[j] = candScore[j - 1]; candRow[j] = candRow[j - 1]; candTok[j] = candTok[j - 1];
            j--;
          }
          candKey[j] = key; candScore[j] = s; candRow[j] = r; candTok[j] = t;
        }
      }
      const order = Array.from({ length: filled }, (_, i) => i);
      if (opts.doSample) order.sort((a, b) => candScore[b] - candScore[a]); // drawn; now walked by score
      let b = 0;
      for (let rank = 0; rank < filled && b < K; rank++) {
        const c = order[rank];
        if (eos.has(candTok[c])) {
          if (rank >= K) continue;
          h.add([...generated[candRow[c]], candTok[c]], candScore[c], step + 1, true);
        } else {
          const r = p * K + b++;
          src[r] = candRow[c]; next[r] = candTok[c]; nextScores[r] = candScore[c];
        }
      }
      for (; b < K; b++) { src[p * K + b] = p * K; nextScores[p * K + b] = DEAD; } // too few candidates (sampling)
      h.done = filled === 0 || h.isDone(candScore[order[0]], step + 1);
    }
    cache.reorder(src);
    const newTokens = Array.from(src, (s, r) => [...rowsTokens[s], next[r]]);
    generated = Array.from(src, (s, r) => [...generated[s], next[r]]);
    for (let r = 0; r < N; r++) rowsTokens[r] = newTokens[r];
    beamScores = nextScores;
    if (step > 0) decodeTokens += N;
    for (let p = 0; p < P; p++) {
      if (hyps[p].done) continue;
      const live = generated.slice(p * K, (p + 1) * K);
      if (stream.advance(p, [...live, ...hyps[p].beams.map((b) => b.tokens)])) {
        // Every output of this prompt hit a stop string: keep the open beams as its outputs.
        live.forEach((g, k) => hyps[p].add(g, beamScores[p * K + k], Math.max(1, g.length), false));
        hyps[p].done = true;
      }
    }
    if (hyps.every((h) => h.done) || step + 1 >= maxNew) break;
    logits = await decodeStep(model, cache, next, batcher);
  }
  const outputs: SequenceOutput[][] = hyps.map((h, p) => {
    if (!h.done) for (let k = 0; k < K; k++) h.add(generated[p * K + k], beamScores[p * K + k], Math.max(1, generated[p * K + k].length), false);
    const best = [...h.beams].sort((a, b) => b.score - a.score).slice(0, n);
    return best.map((b, s) => stream.finish(p * n + s, { tokens: b.tokens, score: b.score, finishReason: (b.eos ? 'eos' : aborted ? 'abort' : 'length') as FinishReason }));
  });
  return { outputs, prompts, prefillMs, decodeMs: performance.now() - t1, decodeTokens };
}

/**
 * What the listener has been told, per output row (prompt · n + s): the certain prefix while
 * the search runs, the rest of each output at the end; a row the listener stops is cut there.
 */
class BeamStream {
  private readonly sent: number[]; // tokens given to the listener, per row
  private readonly stoppedAt: number[]; // the row's length when the listener stopped it, or -1
  private readonly prefix: number[]; // certain tokens per prompt

  constructor(P: number, private readonly n: number, private readonly eos: Set<number>, private readonly onToken?: TokenListener) {
    this.sent = new Array(P * n).fill(0);
    this.stoppedAt = new Array(P * n).fill(-1);
    this.prefix = new Array(P).fill(0);
  }

  /** Sends prompt p's newly certain tokens (common to all `candidates`); true when all its rows have stopped. */
  advance(p: number, candidates: number[][]): boolean {
    if (!this.onToken) return false;
    for (;;) {
      const i = this.prefix[p], tok = candidates[0][i];
      if (tok === undefined || this.eos.has(tok) || candidates.some((c) => c[i] !== tok)) break;
      this.prefix[p]++;
      for (let s = 0; s < this.n; s++) this.send(p * this.n + s, tok);
    }
    for (let s = 0; s < this.n; s++) if (this.stoppedAt[p * this.n + s] < 0) return false;
    return true;
  }

  /** The row's final output: the unsent rest goes to the listener, and a stopped row is cut. */
  finish(row: number, out: SequenceOutput): SequenceOutput {
    for (let i = this.sent[row]; this.onToken && this.stoppedAt[row] < 0 && i < out.tokens.length; i++) {
      if (this.eos.has(out.tokens[i])) break;
      this.send(row, out.tokens[i]);
    }
    const cut = this.stoppedAt[row];
    return cut < 0 ? out : { ...out, tokens: out.tokens.slice(0, cut), finishReason: 'stop' };
  }

  private send(row: number, tok: number): void {
    if (this.stoppedAt[row] >= 0) return;
    this.sent[row]++;
    if (this.onToken!(row, tok) === true) this.stoppedAt[row] = this.sent[row];
  }
}
