/**
 * Beam search with Hugging Face semantics (BeamSearchScorer / BeamHypotheses):
 * - each step, every beam's log-softmax scores (after the repetition / n-gram processors) plus
 *   the beam's running score compete; the top max(2, 1 + #eos)·numBeams candidates are walked in
 *   order: an EOS candidate ranked within the first numBeams becomes a finished hypothesis,
 *   other tokens continue as beams until numBeams are chosen;
 * - a hypothesis scores sum_logprobs / generated_len^lengthPenalty, generated_len counting the
 *   new tokens (the EOS included); at most numBeams are kept per prompt;
 * - earlyStopping true: a prompt is done once numBeams hypotheses exist; false: when the best
 *   running beam, at the current length, cannot beat the worst kept hypothesis; 'never': the
 *   same bound taken at the maximum length (lengthPenalty > 0);
 * - at the end, open beams are added as hypotheses and the best numReturnSequences returned.
 * Initially only the first beam of each prompt is live (the others start at -1e9).
 */
import type { CausalLM, FinishReason, GenerationRun, SequenceOutput } from './generate.js';
import { leftPad } from './generate.js';
import { applyNoRepeatNgram, applyRepetitionPenalty } from './logits-processors.js';
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

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function beamSearch(model: CausalLM, prompts: number[][], opts: ResolvedGenerationOptions): Promise<GenerationRun> {
  const V = model.config.vocabSize, K = opts.numBeams, P = prompts.length, N = P * K;
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
  for (let p = 0; p < P; p++) for (let k = 1; k < K; k++) beamScores[p * K + k] = -1e9;
  const nCand = Math.max(2, 1 + eos.size) * K;
  const lp = new Float32Array(V);
  const candScore = new Float64Array(nCand), candRow = new Int32Array(nCand), candTok = new Int32Array(nCand);

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
      // Top nCand over the K×V candidates, kept sorted descending (small insertion list).
      let filled = 0;
      for (let k = 0; k < K; k++) {
        const r = p * K + k;
        logSoftmax(logits.subarray(r * V, (r + 1) * V), lp);
        applyRepetitionPenalty(lp, rowsTokens[r], opts.repetitionPenalty);
        applyNoRepeatNgram(lp, rowsTokens[r], opts.noRepeatNgramSize);
        const base = beamScores[r];
        for (let t = 0; t < V; t++) {
          const s = lp[t] + base;
          if (filled === nCand && !(s > candScore[filled - 1])) continue;
          let j = filled < nCand ? filled++ : nCand - 1;
          while (j > 0 && candScore[j - 1] < s) { candScore[j] = candScore[j - 1]; candRow[j] = candRow[j - 1]; candTok[j] = candTok[j - 1]; j--; }
          candScore[j] = s; candRow[j] = r; candTok[j] = t;
        }
      }
      let b = 0;
      for (let rank = 0; rank < filled && b < K; rank++) {
        if (eos.has(candTok[rank])) {
          if (rank >= K) continue;
          h.add([...generated[candRow[rank]], candTok[rank]], candScore[rank], step + 1, true);
        } else {
          const r = p * K + b++;
          src[r] = candRow[rank]; next[r] = candTok[rank]; nextScores[r] = candScore[rank];
        }
      }
      h.done = h.isDone(candScore[0], step + 1);
    }
    cache.reorder(src);
    const newTokens = Array.from(src, (s, r) => [...rowsTokens[s], next[r]]);
    generated = Array.from(src, (s, r) => [...generated[s], next[r]]);
    for (let r = 0; r < N; r++) rowsTokens[r] = newTokens[r];
    beamScores = nextScores;
    if (step > 0) decodeTokens += N;
    if (hyps.every((h) => h.done) || step + 1 >= maxNew) break;
    logits = model.forwardCached(cache, next, 1);
    await yieldToEventLoop();
  }
  const outputs: SequenceOutput[][] = hyps.map((h, p) => {
    if (!h.done) for (let k = 0; k < K; k++) h.add(generated[p * K + k], beamScores[p * K + k], Math.max(1, generated[p * K + k].length), false);
    const best = [...h.beams].sort((a, b) => b.score - a.score).slice(0, opts.numReturnSequences);
    return best.map((b) => ({ tokens: b.tokens, score: b.score, finishReason: (b.eos ? 'eos' : aborted ? 'abort' : 'length') as FinishReason }));
  });
  return { outputs, prompts, prefillMs, decodeMs: performance.now() - t1, decodeTokens };
}
