/**
 * GPT-2 pre-tokenization and the byte <-> unicode mapping of GPT-2's `encoder.py`.
 *
 * The pre-tokenizer is a hand-written state machine equivalent to the regex
 * {@link GPT2_PATTERN} (JavaScript semantics, `u` flag: `\s` is JavaScript's white space,
 * lone surrogates are single code points of class "other"). `test/text/tokenizer-pretokenize.test.ts`
 * checks it exhaustively against the regex.
 */

/** GPT-2's pre-tokenization pattern, as in `encoder.py` and tiktoken's `gpt2` encoding. */
export const GPT2_PATTERN =
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** The regex form of {@link GPT2_PATTERN} (global, unicode). */
export function gpt2Regex(): RegExp {
  return new RegExp(GPT2_PATTERN, 'gu');
}

// Character classes used by the pattern.
const UNKNOWN = 0;
/** \p{L} */
export const CLS_LETTER = 1;
/** \p{N} */
export const CLS_NUMBER = 2;
/** \s */
export const CLS_SPACE = 3;
/** anything else: [^\s\p{L}\p{N}] */
export const CLS_OTHER = 4;

const RE_L = /^\p{L}$/u;
const RE_N = /^\p{N}$/u;
const RE_S = /^\s$/u;

/** Lazily filled class of every code point (0 = not yet classified). 1.1 MB. */
const CLASS = new Uint8Array(0x110000);

function computeClass(cp: number): number {
  const s = String.fromCodePoint(cp);
  const c = RE_L.test(s) ? CLS_LETTER : RE_N.test(s) ? CLS_NUMBER : RE_S.test(s) ? CLS_SPACE : CLS_OTHER;
  CLASS[cp] = c;
  return c;
}

for (let cp = 0; cp < 0x100; cp++) computeClass(cp);

/** The pattern's class of code point `cp` (a lone surrogate is {@link CLS_OTHER}). */
export function charClass(cp: number): number {
  const c = CLASS[cp]!;
  return c !== UNKNOWN ? c : computeClass(cp);
}

/** Code point at UTF-16 index `i` (< end); lone surrogates are returned as themselves. */
function cpAt(text: string, i: number, end: number): number {
  const c = text.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < end) {
    const d = text.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
  }
  return c;
}

/** End (exclusive) of the run of code points of class `cls` starting at `j`. */
function runEnd(text: string, j: number, end: number, cls: number): number {
  while (j < end) {
    const c = text.charCodeAt(j);
    if (c < 0x100) {
      if (CLASS[c] !== cls) return j;
      j++;
      continue;
    }
    const cp = cpAt(text, j, end);
    if (charClass(cp) !== cls) return j;
    j += cp > 0xffff ? 2 : 1;
  }
  return j;
}

/**
 * End (exclusive UTF-16 index) of the pre-token that starts at `i` in `text[..end)`;
 * `i < end` is required. Equivalent to one match of {@link GPT2_PATTERN} at `i`.
 */
export function nextPieceEnd(text: string, i: number, end: number): number {
  const c = text.charCodeAt(i);
  if (c === 39 /* ' */ && i + 1 < end) {
    const d = text.charCodeAt(i + 1);
    if (d === 115 /* s */ || d === 116 /* t */ || d === 109 /* m */ || d === 100 /* d */) return i + 2;
    if (i + 2 < end) {
      const e = text.charCodeAt(i + 2);
      if ((d === 114 /* r */ && e === 101) || (d === 118 /* v */ && e === 101) || (d === 108 /* l */ && e === 108)) {
        return i + 3;
      }
    }
  }
  if (c === 32) {
    if (i + 1 < end) {
      const cp = cpAt(text, i + 1, end);
      const cls = charClass(cp);
      if (cls !== CLS_SPACE) return runEnd(text, i + 1 + (cp > 0xffff ? 2 : 1), end, cls);
    }
  } else {
    const cp = c < 0xd800 ? c : cpAt(text, i, end);
    const cls = charClass(cp);
    if (cls !== CLS_SPACE) return runEnd(text, i + (cp > 0xffff ? 2 : 1), end, cls);
  }
  // White space (every \s character is a single UTF-16 unit): \s+(?!\S) | \s+
  let k = i + 1;
  while (k < end && charClass(text.charCodeAt(k)) === CLS_SPACE) k++;
  if (k === end) return end;
  return k - i > 1 ? k - 1 : k;
}

/** Split `text` into GPT-2 pre-tokens (same as `text.match(gpt2Regex())`, but faster). */
export function pretokenize(text: string): string[] {
  const out: string[] = [];
  const end = text.length;
  let i = 0;
  while (i < end) {
    const j = nextPieceEnd(text, i, end);
    out.push(text.slice(i, j));
    i = j;
  }
  return out;
}

/**
 * GPT-2's `bytes_to_unicode()`: byte value -> the printable character standing for it.
 * Printable Latin-1 bytes map to themselves, the others to U+0100 onwards.
 */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const table = new Array<string>(256);
  for (let k = 0; k < 256; k++) table[bs[k]!] = String.fromCharCode(cs[k]!);
  return table;
}

/**
 * The 256 byte values in GPT-2's id order (the order of `bytes_to_unicode`'s list: printable
 * ranges first); GPT-2's vocab gives byte `BYTE_ORDER[k]` the id `k`.
 */
export function gpt2ByteOrder(): number[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) bs.push(b);
  return bs;
}
