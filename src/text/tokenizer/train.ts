/**
 * Learn a GPT-2 style byte-level BPE tokenizer from a corpus.
 *
 * - Pre-tokenization is GPT-2's (the same state machine the tokenizer uses).
 * - Ids 0..255 are the 256 byte tokens, in GPT-2's order (GPT-2's first 256 vocab entries).
 * - Then merges, one at a time, of the most frequent adjacent pair (counted over pre-token
 *   occurrences). Ties are broken deterministically: the pair with the smaller (left id,
 *   right id) wins (as Hugging Face's BpeTrainer does).
 * - The special tokens (default `<|endoftext|>`) come last, after the merged tokens. Special
 *   token strings that occur in the training texts are cut out of them and not learned from.
 */
import { ByteLevelBPETokenizer, escapeRegex } from './bpe.js';
import { TokenizerError } from './errors.js';
import { bytesToUnicode, gpt2ByteOrder, nextPieceEnd } from './pretokenize.js';

export interface TrainBPEOptions {
  /** Special tokens appended after the learned vocabulary (default `['<|endoftext|>']`). */
  specialTokens?: string[];
  /** Stop merging when the most frequent pair occurs fewer times than this (default 2). */
  minFrequency?: number;
  /** Called after each merge with the number of merges done so far and the target. */
  onProgress?: (merges: number, target: number) => void;
}

interface HeapEntry {
  count: number;
  a: number;
  b: number;
}

/** Max-heap by count, then smaller (a, b) first. */
class PairHeap {
  private readonly h: HeapEntry[] = [];
  get size(): number {
    return this.h.length;
  }
  private static before(x: HeapEntry, y: HeapEntry): boolean {
    if (x.count !== y.count) return x.count > y.count;
    if (x.a !== y.a) return x.a < y.a;
    return x.b < y.b;
  }
  push(e: HeapEntry): void {
    const h = this.h;
    let k = h.length;
    h.push(e);
    while (k > 0) {
      const p = (k - 1) >> 1;
      if (!PairHeap.before(e, h[p]!)) break;
      h[k] = h[p]!;
      k = p;
    }
    h[k] = e;
  }
  pop(): HeapEntry | undefined {
    const h = this.h;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let k = 0;
      for (;;) {
        const l = 2 * k + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && PairHeap.before(h[r]!, h[l]!) ? r : l;
        if (!PairHeap.before(h[c]!, last)) break;
        h[k] = h[c]!;
        k = c;
      }
      h[k] = last;
    }
    return top;
  }
}

/**
 * Learn merges on `texts` and return the tokenizer. The id space is at most `vocabSize`
 * (256 byte tokens + merged tokens + special tokens); it is smaller when the corpus runs out
 * of pairs occurring at least `minFrequency` times.
 */
export function trainByteLevelBPE(texts: Iterable<string>, vocabSize: number, opts: TrainBPEOptions = {}): ByteLevelBPETokenizer {
  const specials = opts.specialTokens ?? ['<|endoftext|>'];
  const minFrequency = opts.minFrequency ?? 2;
  if (!Number.isInteger(vocabSize) || vocabSize < 256 + specials.length) {
    throw new TokenizerError(`vocab size ${vocabSize} is too small: it must be an integer >= 256 byte tokens + ${specials.length} special tokens`);
  }
  if (new Set(specials).size !== specials.length || specials.some((s) => s.length === 0)) {
    throw new TokenizerError(`special tokens must be distinct, non-empty strings: ${JSON.stringify(specials)}`);
  }
  const targetTokens = vocabSize - specials.length;

  // 1. Pre-token counts.
  const wordCounts = new Map<string, number>();
  const specialRe = specials.length > 0
    ? new RegExp(specials.map(escapeRegex).join('|'), 'gu')
    : null;
  const countRange = (text: string, start: number, end: number): void => {
    let i = start;
    while (i < end) {
      const j = nextPieceEnd(text, i, end);
      const w = text.slice(i, j);
      wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
      i = j;
    }
  };
  for (const text of texts) {
    if (typeof text !== 'string') throw new TokenizerError('trainByteLevelBPE: every training text must be a string');
    if (specialRe === null) { countRange(text, 0, text.length); continue; }
    specialRe.lastIndex = 0;
    let start = 0;
    for (let m = specialRe.exec(text); m !== null; m = specialRe.exec(text)) {
      countRange(text, start, m.index);
      start = m.index + m[0].length;
    }
    countRange(text, start, text.length);
  }

  // 2. Byte alphabet: id k is byte order[k].
  const b2u = bytesToUnicode();
  const order = gpt2ByteOrder();
  const byteId = new Int32Array(256);
  const tokens: string[] = [];
  for (let k = 0; k < 256; k++) {
    byteId[order[k]!] = k;
    tokens.push(b2u[order[k]!]!);
  }
  const tokenIds = new Map<string, number>(tokens.map((t, i) => [t, i]));

  const encoder = new TextEncoder();
  const words: number[][] = [];
  const freqs: number[] = [];
  for (const [w, c] of wordCounts) {
    const bytes = encoder.encode(w);
    const syms = new Array<number>(bytes.length);
    for (let i = 0; i < bytes.length; i++) syms[i] = byteId[bytes[i]!]!;
    words.push(syms);
    freqs.push(c);
  }

  // 3. Pair statistics.
  const K = vocabSize + 1;
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const heap = new PairHeap();
  const addPairs = (wi: number, sign: 1 | -1, touched: Set<number>): void => {
    const syms = words[wi]!;
    const f = freqs[wi]! * sign;
    for (let i = 0; i + 1 < syms.length; i++) {
      const key = syms[i]! * K + syms[i + 1]!;
      pairCount.set(key, (pairCount.get(key) ?? 0) + f);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (set === undefined) { set = new Set(); pairWords.set(key, set); }
        set.add(wi);
      }
      touched.add(key);
    }
  };
  const initial = new Set<number>();
  for (let wi = 0; wi < words.length; wi++) addPairs(wi, 1, initial);
  for (const key of initial) heap.push({ count: pairCount.get(key)!, a: Math.floor(key / K), b: key % K });

  // 4. Merges.
  const merges: [string, string][] = [];
  const targetMerges = targetTokens - 256;
  while (tokens.length < targetTokens) {
    const e = heap.pop();
    if (e === undefined) break;
    const key = e.a * K + e.b;
    const current = pairCount.get(key) ?? 0;
    if (current !== e.count) {
      if (current > 0) heap.push({ count: current, a: e.a, b: e.b });
      continue;
    }
    if (current < minFrequency || current <= 0) break;
    const sa = tokens[e.a]!;
    const sb = tokens[e.b]!;
    const merged = sa + sb;
    let m = tokenIds.get(merged);
    if (m === undefined) {
      m = tokens.length;
      tokens.push(merged);
      tokenIds.set(merged, m);
    }
    merges.push([sa, sb]);
    const touched = new Set<number>();
    const wis = [...(pairWords.get(key) ?? [])].sort((x, y) => x - y);
    pairWords.delete(key);
    for (const wi of wis) {
      const syms = words[wi]!;
      let has = false;
      for (let i = 0; i + 1 < syms.length; i++) if (syms[i] === e.a && syms[i + 1] === e.b) { has = true; break; }
      if (!has) continue;
      addPairs(wi, -1, touched);
      const out: number[] = [];
      for (let i = 0; i < syms.length;) {
        if (i + 1 < syms.length && syms[i] === e.a && syms[i + 1] === e.b) { out.push(m); i += 2; } else out.push(syms[i++]!);
      }
      words[wi] = out;
      addPairs(wi, 1, touched);
    }
    pairCount.delete(key);
    touched.delete(key);
    for (const t of touched) {
      const c = pairCount.get(t)!;
      if (c <= 0) { pairCount.delete(t); continue; }
      heap.push({ count: c, a: Math.floor(t / K), b: t % K });
    }
    opts.onProgress?.(merges.length, targetMerges);
  }

  const vocab = new Map<string, number>(tokens.map((t, i) => [t, i]));
  const addedTokens = specials.map((content, k) => ({ id: tokens.length + k, content, special: true }));
  const eos = specials.includes('<|endoftext|>') ? '<|endoftext|>' : specials.length > 0 ? specials[specials.length - 1]! : null;
  return new ByteLevelBPETokenizer({
    vocab,
    merges,
    addedTokens,
    eosToken: eos,
    bosToken: eos,
    unkToken: null,
    source: 'trainByteLevelBPE',
  });
}
