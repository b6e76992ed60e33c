/**
 * Logits processors and warpers with Hugging Face semantics, on one row of logits (a
 * Float32Array of the vocabulary size) modified in place. Filtered tokens become -Infinity.
 * `tokens` is the row's sequence so far (prompt, without padding, then the generated tokens).
 *
 * Order, as transformers applies them: repetition penalty, no-repeat n-gram, then (when
 * sampling) temperature, top-k, top-p, min-p, typical-p.
 */

/** Hugging Face RepetitionPenaltyLogitsProcessor: each token present once or more in `tokens`
 *  has its logit divided by `penalty` when positive, multiplied when negative. */
export function applyRepetitionPenalty(logits: Float32Array, tokens: ArrayLike<number>, penalty: number): void {
  if (penalty === 1) return;
  const seen = new Set<number>();
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (seen.has(t)) continue;
    seen.add(t);
    const s = logits[t];
    logits[t] = s < 0 ? s * penalty : s / penalty;
  }
}

/** Tokens that would complete an n-gram already present in `tokens` (HF NoRepeatNGramLogitsProcessor). */
export function bannedNgramTokens(tokens: ArrayLike<number>, n: number): number[] {
  const len = tokens.length;
  if (n <= 0 || len + 1 < n) return [];
  if (n === 1) return [...new Set(Array.from(tokens))];
  const banned = new Set<number>();
  // The last n-1 tokens are the prefix; every earlier occurrence of it bans its successor.
  const start = len - (n - 1);
  for (let i = 0; i + n <= len; i++) {
    let match = true;
    for (let j = 0; j < n - 1; j++) if (tokens[i + j] !== tokens[start + j]) { match = false; break; }
    if (match) banned.add(tokens[i + n - 1]);
  }
  return [...banned];
}

export function applyNoRepeatNgram(logits: Float32Array, tokens: ArrayLike<number>, n: number): void {
  if (n <= 0) return;
  for (const t of bannedNgramTokens(tokens, n)) logits[t] = -Infinity;
}

export function applyTemperature(logits: Float32Array, temperature: number): void {
  if (temperature === 1) return;
  const inv = 1 / temperature;
  for (let i = 0; i < logits.length; i++) logits[i] *= inv;
}

/** The k-th largest value of a (k >= 1), by a bounded min-heap: O(n log k). */
export function kthLargest(a: Float32Array, k: number): number {
  const heap = new Float64Array(k);
  let size = 0;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (size < k) {
      let j = size++;
      heap[j] = v;
      while (j > 0) { const p = (j - 1) >> 1; if (heap[p] <= heap[j]) break; const t = heap[p]; heap[p] = heap[j]; heap[j] = t; j = p; }
    } else if (v > heap[0]) {
      heap[0] = v;
      let j = 0;
      for (;;) {
        const l = 2 * j + 1, r = l + 1;
        let m = j;
        if (l < k && heap[l] < heap[m]) m = l;
        if (r < k && heap[r] < heap[m]) m = r;
        if (m === j) break;
        const t = heap[m]; heap[m] = heap[j]; heap[j] = t; j = m;
      }
    }
  }
  return heap[0];
}

/** HF TopKLogitsWarper: removes tokens whose logit is below the k-th largest (ties kept). */
export function applyTopK(logits: Float32Array, k: number, minTokensToKeep = 1): void {
  if (k <= 0) return;
  const kk = Math.min(Math.max(k, minTokensToKeep), logits.length);
  if (kk >= logits.length) return;
  const threshold = kthLargest(logits, kk);
  for (let i = 0; i < logits.length; i++) if (logits[i] < threshold) logits[i] = -Infinity;
}

/** Indices of the finite logits, sorted by logit ascending (stable: by index on ties, as torch's stable sort). */
function finiteAscending(logits: Float32Array): number[] {
  const idx: number[] = [];
  for (let i = 0; i < logits.length; i++) if (logits[i] !== -Infinity) idx.push(i);
  idx.sort((a, b) => logits[a] - logits[b] || a - b);
  return idx;
}

/** Softmax of the given logits (float64 accumulation). */
function softmaxOf(values: number[]): Float64Array {
  let m = -Infinity;
  for (const v of values) if (v > m) m = v;
  const out = new Float64Array(values.length);
  let s = 0;
  for (let i = 0; i < values.length; i++) { out[i] = Math.exp(values[i] - m); s += out[i]; }
  for (let i = 0; i < out.length; i++) out[i] /= s;
  return out;
}

/**
 * HF TopPLogitsWarper: sort ascending, and remove tokens while the cumulative probability
 * (from the least likely up) is <= 1 - topP; the `minTokensToKeep` most likely always stay.
 */
export function applyTopP(logits: Float32Array, topP: number, minTokensToKeep = 1): void {
  if (topP >= 1) return;
  const idx = finiteAscending(logits);
  const probs = softmaxOf(idx.map((i) => logits[i]));
  let cum = 0;
  const keepFrom = idx.length - minTokensToKeep;
  for (let j = 0; j < idx.length; j++) {
    cum += probs[j];
    if (cum <= 1 - topP && j < keepFrom) logits[idx[j]] = -Infinity;
  }
}

/** HF MinPLogitsWarper: remove tokens with probability < minP · max probability (the most likely is kept). */
export function applyMinP(logits: Float32Array, minP: number, minTokensToKeep = 1): void {
  if (minP <= 0) return;
  let m = -Infinity, best = 0;
  for (let i = 0; i < logits.length; i++) if (logits[i] > m) { m = logits[i]; best = i; }
  if (m === -Infinity) return;
  // p_i < minP · p_max  ⇔  logit_i < logit_max + ln(minP)
  const threshold = m + Math.log(minP);
  if (minTokensToKeep <= 1) {
    for (let i = 0; i < logits.length; i++) if (logits[i] < threshold && i !== best) logits[i] = -Infinity;
    return;
  }
  const desc = finiteAscending(logits).reverse();
  for (let j = minTokensToKeep; j < desc.length; j++) if (logits[desc[j]] < threshold) logits[desc[j]] = -Infinity;
}

/**
 * HF TypicalLogitsWarper: rank tokens by |−log p − H| (H the entropy) ascending and keep the
 * smallest prefix whose probability mass reaches `mass` (ties at the cut kept).
 */
export function applyTypicalP(logits: Float32Array, mass: number, minTokensToKeep = 1): void {
  if (mass >= 1) return;
  const idx: number[] = [];
  for (let i = 0; i < logits.length; i++) if (logits[i] !== -Infinity) idx.push(i);
  const probs = softmaxOf(idx.map((i) => logits[i]));
  let ent = 0;
  for (const p of probs) if (p > 0) ent -= p * Math.log(p);
  const shifted = new Float64Array(idx.length);
  for (let j = 0; j < idx.length; j++) shifted[j] = Math.abs(-Math.log(probs[j]) - ent);
  const order = [...idx.keys()].sort((a, b) => shifted[a] - shifted[b] || a - b);
  let cum = 0, lastInd = 0;
  for (const j of order) { cum += probs[j]; if (cum < mass) lastInd++; else break; }
  lastInd = Math.min(lastInd, order.length - 1);
  const cut = shifted[order[lastInd]];
  for (let r = minTokensToKeep; r < order.length; r++) {
    const j = order[r];
    if (shifted[j] > cut) logits[idx[j]] = -Infinity;
  }
}

/** The sampling settings the warpers need. */
export interface WarperSettings {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  typicalP: number;
}

/** Temperature, top-k, top-p, min-p, typical-p, in transformers' order. */
export function applyWarpers(logits: Float32Array, s: WarperSettings): void {
  applyTemperature(logits, s.temperature);
  applyTopK(logits, s.topK);
  applyTopP(logits, s.topP);
  applyMinP(logits, s.minP);
  applyTypicalP(logits, s.typicalP);
}
