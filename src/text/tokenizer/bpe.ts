/**
 * GPT-2's byte-level BPE tokenizer, byte-exact with GPT-2's `encoder.py` / tiktoken's `gpt2`
 * encoding / Hugging Face's `GPT2Tokenizer`.
 *
 * Pipeline: split on allowed special tokens -> GPT-2 pre-tokenization (a state machine
 * equivalent to the GPT-2 regex) -> UTF-8 bytes -> byte tokens -> BPE merges by rank.
 * Each pre-token's ids are cached (bounded map), merges are looked up in an open-addressing
 * hash table keyed by the pair of token ids.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TokenizerError } from './errors.js';
import { bytesToUnicode, nextPieceEnd, pretokenize } from './pretokenize.js';
import { writeFileAtomic } from '../../io/atomic.js';

/** A token added on top of the BPE vocabulary (Hugging Face `added_tokens`). */
export interface AddedToken {
  id: number;
  content: string;
  /** Special tokens are only recognised in text where the caller allows them, and can be skipped on decode. */
  special: boolean;
}

export interface BPETokenizerOptions {
  /** token string (byte-level alphabet) -> id */
  vocab: Map<string, number> | Record<string, number>;
  /** merges by rank (first = highest priority), as pairs or as "a b" strings */
  merges: ReadonlyArray<readonly [string, string] | string>;
  /** added tokens; tokens listed here that are missing from `vocab` are added to the id space */
  addedTokens?: AddedToken[];
  eosToken?: string | null;
  bosToken?: string | null;
  padToken?: string | null;
  unkToken?: string | null;
  /** `model_max_length` written to tokenizer_config.json by save() */
  modelMaxLength?: number;
  /** Maximum number of cached pre-tokens (default 65536). */
  cacheSize?: number;
  /** Where the tokenizer came from, for error messages. */
  source?: string;
  /**
   * Pre-tokens longer than this many bytes use the O(n log n) heap BPE instead of the simple
   * quadratic loop (default 48). Both give identical ids; the option exists for testing.
   */
  longWordThreshold?: number;
}

export interface EncodeOptions {
  /** Special tokens recognised as such in the text; others are encoded as plain text. Default: none. */
  allowedSpecial?: 'all' | readonly string[];
}

export interface DecodeOptions {
  /** Leave special tokens out of the text. */
  skipSpecialTokens?: boolean;
}

export interface StreamDecoder {
  /** Add one token; returns the text completed by it ('' while a character is still incomplete). */
  push(id: number): string;
  /** End of stream: returns what is left (an incomplete character becomes U+FFFD). */
  flush(): string;
}

const BYTE_TO_UNICODE = bytesToUnicode();
/** char code -> byte for the byte-level alphabet (all of it is below U+0144), -1 elsewhere. */
const UNICODE_TO_BYTE = new Int16Array(0x200).fill(-1);
BYTE_TO_UNICODE.forEach((ch, b) => { UNICODE_TO_BYTE[ch.charCodeAt(0)] = b; });
const DEFAULT_CACHE_SIZE = 65536;
const LONG_WORD = 48;

/** Escape `s` for a `u`-flag regex (where only syntax characters may be escaped). */
export function escapeRegex(s: string): string {
  return s.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
}

/** Token id arrays cached per pre-token; a single id is stored as a number. */
type CacheEntry = number | Int32Array;

/** Open-addressing hash table (a, b) -> (rank, merged id). */
class MergeTable {
  private readonly mask: number;
  private readonly keyA: Int32Array;
  private readonly keyB: Int32Array;
  readonly rank: Int32Array;
  readonly merged: Int32Array;
  constructor(n: number) {
    let cap = 16;
    while (cap < n * 2) cap <<= 1;
    this.mask = cap - 1;
    this.keyA = new Int32Array(cap).fill(-1);
    this.keyB = new Int32Array(cap);
    this.rank = new Int32Array(cap);
    this.merged = new Int32Array(cap);
  }
  private hash(a: number, b: number): number {
    return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b)) >>> 7;
  }
  /** Insert unless the pair is already there (the lower rank wins). */
  add(a: number, b: number, rank: number, merged: number): void {
    let h = this.hash(a, b) & this.mask;
    for (;;) {
      const ka = this.keyA[h]!;
      if (ka === -1) {
        this.keyA[h] = a;
        this.keyB[h] = b;
        this.rank[h] = rank;
        this.merged[h] = merged;
        return;
      }
      if (ka === a && this.keyB[h] === b) return;
      h = (h + 1) & this.mask;
    }
  }
  /** Slot of pair (a, b), or -1. */
  find(a: number, b: number): number {
    const keyA = this.keyA;
    let h = this.hash(a, b) & this.mask;
    for (;;) {
      const ka = keyA[h]!;
      if (ka === a && this.keyB[h] === b) return h;
      if (ka === -1) return -1;
      h = (h + 1) & this.mask;
    }
  }
}

function readText(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'file not found' : e.code === 'EISDIR' ? 'is a directory' : e.message;
    throw new TokenizerError(`cannot read ${what} ${file}: ${why}`, { cause: err });
  }
}

function readJson(file: string, what: string): unknown {
  const text = readText(file, what);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new TokenizerError(`malformed ${what} ${file}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A Hugging Face special-token setting: a string, `{content: string}` (AddedToken), or null. */
function tokenContent(x: unknown): string | null | undefined {
  if (x === undefined) return undefined;
  if (x === null) return null;
  if (typeof x === 'string') return x;
  if (isRecord(x) && typeof x.content === 'string') return x.content;
  return undefined;
}

function parseMergesTxt(text: string, file: string): [string, string][] {
  const merges: [string, string][] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    let line = lines[n]!;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (n === 0 && line.startsWith('#version')) continue;
    if (line === '') continue;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new TokenizerError(`malformed merges file ${file}: line ${n + 1} is not two tokens separated by one space: ${JSON.stringify(line)}`);
    }
    merges.push([parts[0]!, parts[1]!]);
  }
  return merges;
}

function parseVocab(x: unknown, file: string): Map<string, number> {
  if (!isRecord(x)) throw new TokenizerError(`malformed vocab in ${file}: expected an object of token -> id`);
  const vocab = new Map<string, number>();
  for (const [tok, id] of Object.entries(x)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new TokenizerError(`malformed vocab in ${file}: token ${JSON.stringify(tok)} has id ${JSON.stringify(id)} (expected a non-negative integer)`);
    }
    vocab.set(tok, id);
  }
  return vocab;
}

/** Build a JSON object text with keys in the given order (JSON.stringify would put integer-like keys first). */
function orderedJsonObject(entries: Iterable<[string, unknown]>, indent: string): string {
  const parts: string[] = [];
  for (const [k, v] of entries) parts.push(`${indent}${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  return parts.length === 0 ? '{}' : `{\n${parts.join(',\n')}\n${indent.slice(2)}}`;
}

/** GPT-2's byte-level BPE tokenizer. */
export class ByteLevelBPETokenizer {
  private readonly vocab: Map<string, number>;
  private readonly idTokens: (string | undefined)[];
  private readonly idBytes: (Uint8Array | undefined)[];
  private readonly mergeList: [string, string][];
  private readonly table: MergeTable;
  private readonly byteIds: Int32Array;
  private readonly added: AddedToken[];
  private readonly addedByContent = new Map<string, AddedToken>();
  private readonly specialIds = new Set<number>();
  private readonly cache = new Map<string, CacheEntry>();
  private readonly cacheSize: number;
  private readonly longWord: number;
  private readonly splitRegexCache = new Map<string, RegExp | null>();
  private readonly source: string;
  private scratch = new Int32Array(256);
  private readonly encoder = new TextEncoder();

  readonly eosToken: string | null;
  readonly bosToken: string | null;
  readonly padToken: string | null;
  readonly unkToken: string | null;
  readonly modelMaxLength: number | undefined;

  constructor(opts: BPETokenizerOptions) {
    this.source = opts.source ?? 'tokenizer';
    this.cacheSize = Math.max(1, opts.cacheSize ?? DEFAULT_CACHE_SIZE);
    this.longWord = opts.longWordThreshold ?? LONG_WORD;
    this.vocab = opts.vocab instanceof Map ? new Map(opts.vocab) : new Map(Object.entries(opts.vocab));
    this.idTokens = [];
    for (const [tok, id] of this.vocab) {
      if (!Number.isInteger(id) || id < 0) throw new TokenizerError(`${this.source}: token ${JSON.stringify(tok)} has invalid id ${id}`);
      if (this.idTokens[id] !== undefined) {
        throw new TokenizerError(`${this.source}: id ${id} is used by both ${JSON.stringify(this.idTokens[id])} and ${JSON.stringify(tok)}`);
      }
      this.idTokens[id] = tok;
    }
    // Added tokens.
    this.added = [];
    for (const t of opts.addedTokens ?? []) {
      const have = this.vocab.get(t.content);
      if (have !== undefined && have !== t.id) {
        throw new TokenizerError(`${this.source}: added token ${JSON.stringify(t.content)} has id ${t.id} but the vocab gives it ${have}`);
      }
      const other = this.idTokens[t.id];
      if (have === undefined && other !== undefined) {
        throw new TokenizerError(`${this.source}: added token ${JSON.stringify(t.content)} has id ${t.id}, already used by ${JSON.stringify(other)}`);
      }
      if (this.addedByContent.has(t.content)) continue;
      const tok: AddedToken = { id: t.id, content: t.content, special: t.special };
      this.added.push(tok);
      this.addedByContent.set(t.content, tok);
      this.vocab.set(t.content, t.id);
      this.idTokens[t.id] = t.content;
      if (t.special) this.specialIds.add(t.id);
    }
    // Bytes of every id.
    this.idBytes = new Array<Uint8Array | undefined>(this.idTokens.length);
    for (let id = 0; id < this.idTokens.length; id++) {
      const tok = this.idTokens[id];
      if (tok === undefined) continue;
      if (this.addedByContent.has(tok)) {
        this.idBytes[id] = this.encoder.encode(tok);
        continue;
      }
      const bytes = new Uint8Array(tok.length);
      let ok = true;
      for (let k = 0; k < tok.length; k++) {
        const c = tok.charCodeAt(k);
        const b = c < UNICODE_TO_BYTE.length ? UNICODE_TO_BYTE[c]! : -1;
        if (b < 0) { ok = false; break; }
        bytes[k] = b;
      }
      // A token outside the byte-level alphabet decodes as its own UTF-8 text.
      this.idBytes[id] = ok ? bytes : this.encoder.encode(tok);
    }
    // Byte tokens.
    this.byteIds = new Int32Array(256).fill(-1);
    for (let b = 0; b < 256; b++) {
      const id = this.vocab.get(BYTE_TO_UNICODE[b]!);
      if (id !== undefined) this.byteIds[b] = id;
    }
    // Merges.
    this.mergeList = [];
    this.table = new MergeTable(opts.merges.length);
    for (let r = 0; r < opts.merges.length; r++) {
      const m = opts.merges[r]!;
      let a: string, b: string;
      if (typeof m === 'string') {
        const parts = m.split(' ');
        if (parts.length !== 2) throw new TokenizerError(`${this.source}: merge ${r} ${JSON.stringify(m)} is not two tokens separated by one space`);
        a = parts[0]!;
        b = parts[1]!;
      } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') {
        a = m[0];
        b = m[1];
      } else {
        throw new TokenizerError(`${this.source}: merge ${r} is neither "a b" nor ["a", "b"]: ${JSON.stringify(m)}`);
      }
      const ia = this.vocab.get(a);
      const ib = this.vocab.get(b);
      const im = this.vocab.get(a + b);
      if (ia === undefined || ib === undefined || im === undefined) {
        const missing = ia === undefined ? a : ib === undefined ? b : a + b;
        throw new TokenizerError(`${this.source}: merge ${r} (${JSON.stringify(a)} ${JSON.stringify(b)}) uses token ${JSON.stringify(missing)}, which is not in the vocab`);
      }
      this.mergeList.push([a, b]);
      this.table.add(ia, ib, r, im);
    }
    const pick = (x: string | null | undefined): string | null => (x !== undefined && x !== null && this.vocab.has(x) ? x : null);
    const eot = this.vocab.has('<|endoftext|>') ? '<|endoftext|>' : null;
    this.eosToken = opts.eosToken === undefined ? eot : pick(opts.eosToken);
    this.bosToken = opts.bosToken === undefined ? eot : pick(opts.bosToken);
    this.unkToken = opts.unkToken === undefined ? eot : pick(opts.unkToken);
    this.padToken = opts.padToken === undefined ? null : pick(opts.padToken);
    this.modelMaxLength = opts.modelMaxLength;
  }

  // ---------------------------------------------------------------- loaders

  /** Load GPT-2's `vocab.json` (= `encoder.json`) and `merges.txt` (= `vocab.bpe`). */
  static fromFiles(vocabJsonPath: string, mergesTxtPath: string, opts: Partial<BPETokenizerOptions> = {}): ByteLevelBPETokenizer {
    const vocab = parseVocab(readJson(vocabJsonPath, 'vocab file'), vocabJsonPath);
    const merges = parseMergesTxt(readText(mergesTxtPath, 'merges file'), mergesTxtPath);
    const addedTokens = opts.addedTokens ?? (vocab.has('<|endoftext|>') ? [{ id: vocab.get('<|endoftext|>')!, content: '<|endoftext|>', special: true }] : []);
    return new ByteLevelBPETokenizer({ source: `${vocabJsonPath} + ${mergesTxtPath}`, ...opts, vocab, merges, addedTokens });
  }

  /** Load a Hugging Face `tokenizer.json` whose model is BPE. */
  static fromTokenizerJson(file: string, opts: Partial<BPETokenizerOptions> = {}): ByteLevelBPETokenizer {
    const json = readJson(file, 'tokenizer.json');
    if (!isRecord(json) || !isRecord(json.model)) throw new TokenizerError(`malformed tokenizer.json ${file}: no "model" object`);
    const model = json.model;
    if (model.type !== undefined && model.type !== 'BPE') {
      throw new TokenizerError(`unsupported tokenizer.json ${file}: model.type is ${JSON.stringify(model.type)}, only "BPE" is supported`);
    }
    const vocab = parseVocab(model.vocab, `${file} (model.vocab)`);
    if (!Array.isArray(model.merges)) throw new TokenizerError(`malformed tokenizer.json ${file}: model.merges is not an array`);
    const addedTokens: AddedToken[] = [];
    if (json.added_tokens !== undefined && json.added_tokens !== null) {
      if (!Array.isArray(json.added_tokens)) throw new TokenizerError(`malformed tokenizer.json ${file}: added_tokens is not an array`);
      for (const t of json.added_tokens as unknown[]) {
        if (!isRecord(t) || typeof t.content !== 'string' || typeof t.id !== 'number') {
          throw new TokenizerError(`malformed tokenizer.json ${file}: added token ${JSON.stringify(t)} lacks a string "content" or a numeric "id"`);
        }
        addedTokens.push({ id: t.id, content: t.content, special: t.special !== false });
      }
    }
    return new ByteLevelBPETokenizer({
      source: file,
      ...opts,
      vocab,
      merges: model.merges as (string | [string, string])[],
      addedTokens: [...addedTokens, ...(opts.addedTokens ?? [])],
    });
  }

  /**
   * Load a tokenizer directory: `tokenizer.json` if present, else `vocab.json` + `merges.txt`;
   * eos/bos/pad/unk come from `tokenizer_config.json` / `special_tokens_map.json` when present.
   */
  static fromDirectory(dir: string): ByteLevelBPETokenizer {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new TokenizerError(`tokenizer directory ${dir} does not exist`);
    const opts: Partial<BPETokenizerOptions> = {};
    const extra: AddedToken[] = [];
    const names: Array<'eos_token' | 'bos_token' | 'pad_token' | 'unk_token'> = ['eos_token', 'bos_token', 'pad_token', 'unk_token'];
    const settings: Partial<Record<(typeof names)[number], string | null>> = {};
    for (const name of ['special_tokens_map.json', 'tokenizer_config.json']) {
      const file = path.join(dir, name);
      if (!fs.existsSync(file)) continue;
      const cfg = readJson(file, name);
      if (!isRecord(cfg)) throw new TokenizerError(`malformed ${name} ${file}: expected an object`);
      for (const key of names) {
        const v = tokenContent(cfg[key]);
        if (v !== undefined) settings[key] = v;
      }
      if (name === 'tokenizer_config.json') {
        if (typeof cfg.model_max_length === 'number' && cfg.model_max_length < 1e15) opts.modelMaxLength = cfg.model_max_length;
        if (isRecord(cfg.added_tokens_decoder)) {
          for (const [idStr, t] of Object.entries(cfg.added_tokens_decoder)) {
            if (isRecord(t) && typeof t.content === 'string' && /^\d+$/.test(idStr)) {
              extra.push({ id: Number(idStr), content: t.content, special: t.special !== false });
            }
          }
        }
      }
    }
    if (settings.eos_token !== undefined) opts.eosToken = settings.eos_token;
    if (settings.bos_token !== undefined) opts.bosToken = settings.bos_token;
    if (settings.pad_token !== undefined) opts.padToken = settings.pad_token;
    if (settings.unk_token !== undefined) opts.unkToken = settings.unk_token;

    const tj = path.join(dir, 'tokenizer.json');
    let base: ByteLevelBPETokenizer;
    if (fs.existsSync(tj)) {
      base = ByteLevelBPETokenizer.fromTokenizerJson(tj);
    } else {
      const vj = path.join(dir, 'vocab.json');
      const mt = path.join(dir, 'merges.txt');
      if (!fs.existsSync(vj) || !fs.existsSync(mt)) {
        throw new TokenizerError(`tokenizer directory ${dir} has neither tokenizer.json nor vocab.json + merges.txt`);
      }
      base = ByteLevelBPETokenizer.fromFiles(vj, mt);
    }
    // Special tokens named in the config are special tokens (as in transformers).
    const added = [...base.added];
    const have = new Set(added.map((t) => t.content));
    for (const t of extra) {
      if (!have.has(t.content)) { added.push(t); have.add(t.content); }
    }
    for (const key of names) {
      const content = settings[key];
      if (typeof content === 'string' && !have.has(content)) {
        const id = base.vocab.get(content);
        if (id !== undefined) { added.push({ id, content, special: true }); have.add(content); }
      }
    }
    return new ByteLevelBPETokenizer({
      source: dir,
      vocab: base.vocabWithoutAdded(),
      merges: base.mergeList,
      addedTokens: added,
      ...opts,
    });
  }

  private vocabWithoutAdded(): Map<string, number> {
    const v = new Map(this.vocab);
    // Added tokens that were not part of the model vocab are kept out (they come back via added_tokens).
    return v;
  }

  // ---------------------------------------------------------------- properties

  /** Size of the id space: highest id + 1 (vocab and added tokens). */
  get vocabSize(): number {
    return this.idTokens.length;
  }
  get eosTokenId(): number | null {
    return this.eosToken === null ? null : this.vocab.get(this.eosToken)!;
  }
  get bosTokenId(): number | null {
    return this.bosToken === null ? null : this.vocab.get(this.bosToken)!;
  }
  get padTokenId(): number | null {
    return this.padToken === null ? null : this.vocab.get(this.padToken)!;
  }
  get unkTokenId(): number | null {
    return this.unkToken === null ? null : this.vocab.get(this.unkToken)!;
  }
  /** Merges in rank order. */
  get merges(): ReadonlyArray<readonly [string, string]> {
    return this.mergeList;
  }
  /** Added tokens (special and not). */
  get addedTokens(): ReadonlyArray<Readonly<AddedToken>> {
    return this.added;
  }
  /** Contents of the special tokens. */
  get specialTokens(): string[] {
    return this.added.filter((t) => t.special).map((t) => t.content);
  }
  /** The token string (byte-level alphabet) of `id`, or undefined. */
  idToToken(id: number): string | undefined {
    return this.idTokens[id];
  }
  /** The id of token string `token`, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }
  /** The raw bytes of token `id`, or undefined. */
  tokenBytes(id: number): Uint8Array | undefined {
    return this.idBytes[id];
  }
  isSpecialId(id: number): boolean {
    return this.specialIds.has(id);
  }

  // ---------------------------------------------------------------- encode

  /** Encode `text` to token ids. Special tokens are only recognised where `allowedSpecial` allows. */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    const re = this.splitRegex(opts.allowedSpecial);
    if (re === null) {
      this.encodeOrdinary(text, 0, text.length, out);
      return out;
    }
    re.lastIndex = 0;
    let start = 0;
    for (;;) {
      const m = re.exec(text);
      if (m === null) break;
      this.encodeOrdinary(text, start, m.index, out);
      out.push(this.addedByContent.get(m[0])!.id);
      start = m.index + m[0].length;
    }
    this.encodeOrdinary(text, start, text.length, out);
    return out;
  }

  /** Regex matching the added tokens recognised under `allowed` (non-special added tokens always are). */
  private splitRegex(allowed: EncodeOptions['allowedSpecial']): RegExp | null {
    const key = allowed === undefined ? '' : allowed === 'all' ? '\u0000all' : allowed.join('\u0000');
    let re = this.splitRegexCache.get(key);
    if (re !== undefined) return re;
    if (allowed !== undefined && allowed !== 'all') {
      for (const s of allowed) {
        const t = this.addedByContent.get(s);
        if (t === undefined || !t.special) throw new TokenizerError(`${JSON.stringify(s)} is not a special token of this tokenizer`);
      }
    }
    const allowSet = allowed === 'all' ? null : new Set(allowed ?? []);
    const contents = this.added
      .filter((t) => t.content.length > 0 && (!t.special || allowSet === null || allowSet.has(t.content)))
      .map((t) => t.content)
      .sort((a, b) => b.length - a.length);
    re = contents.length === 0 ? null : new RegExp(contents.map(escapeRegex).join('|'), 'gu');
    if (this.splitRegexCache.size > 64) this.splitRegexCache.clear();
    this.splitRegexCache.set(key, re);
    return re;
  }

  /** Encode text[start..end) with no special-token handling, appending to `out`. */
  private encodeOrdinary(text: string, start: number, end: number, out: number[]): void {
    const cache = this.cache;
    let i = start;
    while (i < end) {
      const j = nextPieceEnd(text, i, end);
      const piece = text.slice(i, j);
      let ids = cache.get(piece);
      if (ids === undefined) {
        ids = this.bpePiece(piece);
        // A long slice shares the memory of the whole text: store a copy as the key so that
        // the cache never keeps big input strings alive.
        const key = piece.length >= 13 ? Buffer.from(piece, 'utf16le').toString('utf16le') : piece;
        if (cache.size >= this.cacheSize) {
          // Bounded: drop the oldest quarter (Map iterates in insertion order).
          let drop = this.cacheSize >> 2;
          for (const k of cache.keys()) {
            cache.delete(k);
            if (--drop <= 0) break;
          }
        }
        cache.set(key, ids);
      }
      if (typeof ids === 'number') out.push(ids);
      else for (let k = 0; k < ids.length; k++) out.push(ids[k]!);
      i = j;
    }
  }

  /** UTF-8 bytes of `piece` as byte-token ids in `this.scratch`; returns the count. */
  private pieceToByteIds(piece: string): number {
    const len = piece.length;
    if (this.scratch.length < len * 3) this.scratch = new Int32Array(len * 3 + 16);
    const s = this.scratch;
    const bid = this.byteIds;
    let n = 0;
    for (let i = 0; i < len; i++) {
      let c = piece.charCodeAt(i);
      if (c < 0x80) {
        s[n++] = bid[c]!;
      } else if (c < 0x800) {
        s[n++] = bid[0xc0 | (c >> 6)]!;
        s[n++] = bid[0x80 | (c & 63)]!;
      } else if (c >= 0xd800 && c <= 0xdfff) {
        const d = i + 1 < len ? piece.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          i++;
          c = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
          s[n++] = bid[0xf0 | (c >> 18)]!;
          s[n++] = bid[0x80 | ((c >> 12) & 63)]!;
          s[n++] = bid[0x80 | ((c >> 6) & 63)]!;
          s[n++] = bid[0x80 | (c & 63)]!;
        } else {
          // Lone surrogate: U+FFFD, as TextEncoder does.
          s[n++] = bid[0xef]!;
          s[n++] = bid[0xbf]!;
          s[n++] = bid[0xbd]!;
        }
      } else {
        s[n++] = bid[0xe0 | (c >> 12)]!;
        s[n++] = bid[0x80 | ((c >> 6) & 63)]!;
        s[n++] = bid[0x80 | (c & 63)]!;
      }
    }
    for (let k = 0; k < n; k++) {
      if (s[k]! < 0) throw new TokenizerError(`${this.source}: the vocab has no token for one of the bytes of ${JSON.stringify(piece)}`);
    }
    return n;
  }

  /** BPE of one pre-token. */
  private bpePiece(piece: string): CacheEntry {
    let n = this.pieceToByteIds(piece);
    const s = this.scratch;
    if (n > this.longWord) {
      return this.bpeLong(s.subarray(0, n));
    }
    const table = this.table;
    const rankArr = table.rank;
    const mergedArr = table.merged;
    while (n > 1) {
      let bestRank = 0x7fffffff;
      let bestA = -1;
      let bestB = -1;
      let bestM = -1;
      for (let i = 0; i < n - 1; i++) {
        const slot = table.find(s[i]!, s[i + 1]!);
        if (slot >= 0 && rankArr[slot]! < bestRank) {
          bestRank = rankArr[slot]!;
          bestA = s[i]!;
          bestB = s[i + 1]!;
          bestM = mergedArr[slot]!;
        }
      }
      if (bestM < 0) break;
      // Merge every occurrence, left to right (GPT-2's bpe()).
      let w = 0;
      let i = 0;
      while (i < n) {
        if (i < n - 1 && s[i] === bestA && s[i + 1] === bestB) {
          s[w++] = bestM;
          i += 2;
        } else {
          s[w++] = s[i++]!;
        }
      }
      n = w;
    }
    return n === 1 ? s[0]! : s.slice(0, n);
  }

  /**
   * BPE for long pre-tokens in O(n log n): a linked list of symbols and a heap of candidate
   * pairs keyed by (rank, position). All occurrences of the best rank are merged left to right
   * before any other rank, exactly as GPT-2's bpe().
   */
  private bpeLong(init: Int32Array): CacheEntry {
    const n = init.length;
    const sym = Int32Array.from(init);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const table = this.table;
    const P = 4294967296; // key = rank * 2^32 + position
    const heap: number[] = [];
    const push = (key: number): void => {
      let k = heap.length;
      heap.push(key);
      while (k > 0) {
        const p = (k - 1) >> 1;
        if (heap[p]! <= key) break;
        heap[k] = heap[p]!;
        k = p;
      }
      heap[k] = key;
    };
    const pop = (): number => {
      const top = heap[0]!;
      const last = heap.pop()!;
      if (heap.length > 0) {
        let k = 0;
        const len = heap.length;
        for (;;) {
          const l = 2 * k + 1;
          if (l >= len) break;
          const r = l + 1;
          const c = r < len && heap[r]! < heap[l]! ? r : l;
          if (heap[c]! >= last) break;
          heap[k] = heap[c]!;
          k = c;
        }
        heap[k] = last;
      }
      return top;
    };
    const consider = (i: number): void => {
      const j = next[i]!;
      if (j < 0) return;
      const slot = table.find(sym[i]!, sym[j]!);
      if (slot >= 0) push(table.rank[slot]! * P + i);
    };
    for (let i = 0; i < n - 1; i++) consider(i);
    const dead = new Uint8Array(n);
    const batch: number[] = [];
    while (heap.length > 0) {
      const rank = Math.floor(heap[0]! / P);
      batch.length = 0;
      while (heap.length > 0 && Math.floor(heap[0]! / P) === rank) batch.push(pop() - rank * P);
      for (const i of batch) {
        if (dead[i]) continue;
        const j = next[i]!;
        if (j < 0) continue;
        const slot = table.find(sym[i]!, sym[j]!);
        if (slot < 0 || table.rank[slot] !== rank) continue;
        sym[i] = table.merged[slot]!;
        dead[j] = 1;
        const k = next[j]!;
        next[i] = k;
        if (k >= 0) prev[k] = i;
        if (prev[i]! >= 0) consider(prev[i]!);
        consider(i);
      }
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]!) out.push(sym[i]!);
    return out.length === 1 ? out[0]! : Int32Array.from(out);
  }

  /** Empty the pre-token cache (e.g. for cold-cache benchmarks). */
  clearCache(): void {
    this.cache.clear();
  }

  /** GPT-2 pre-tokens of `text` (no special-token handling). */
  pretokenize(text: string): string[] {
    return pretokenize(text);
  }

  // ---------------------------------------------------------------- decode

  /** The bytes of `ids` concatenated. Unknown ids throw a TokenizerError. */
  decodeBytes(ids: ArrayLike<number>, opts: DecodeOptions = {}): Uint8Array {
    let total = 0;
    const parts: Uint8Array[] = [];
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k]!;
      if (opts.skipSpecialTokens && this.specialIds.has(id)) continue;
      const b = this.idBytes[id];
      if (b === undefined) throw new TokenizerError(`${this.source}: unknown token id ${id} (vocab size ${this.vocabSize})`);
      parts.push(b);
      total += b.length;
    }
    const buf = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      buf.set(p, off);
      off += p.length;
    }
    return buf;
  }

  /** Decode ids to text; invalid UTF-8 becomes U+FFFD (Python's errors='replace'). */
  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    return new TextDecoder('utf-8').decode(this.decodeBytes(ids, opts));
  }

  /** Incremental decoder: characters split across tokens are held back until complete. */
  createStreamDecoder(opts: DecodeOptions = {}): StreamDecoder {
    const td = new TextDecoder('utf-8');
    return {
      push: (id: number): string => {
        if (opts.skipSpecialTokens && this.specialIds.has(id)) return '';
        const b = this.idBytes[id];
        if (b === undefined) throw new TokenizerError(`${this.source}: unknown token id ${id} (vocab size ${this.vocabSize})`);
        return td.decode(b, { stream: true });
      },
      flush: (): string => td.decode(),
    };
  }

  // ---------------------------------------------------------------- save

  /** The Hugging Face `tokenizer.json` text of this tokenizer. */
  toTokenizerJson(): string {

    const vocabEntries: [string, number][] = [];
    for (let id = 0; id < this.idTokens.length; id++) {
      const t = this.idTokens[id];
      if (t !== undefined) vocabEntries.push([t, id]);
    }
    const added = this.added.map((t) => ({
      id: t.id, content: t.content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: t.special,
    }));
    const head = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: added,
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    };
    const headText = JSON.stringify(head, null, 2);
    const model =
      `{\n    "type": "BPE",\n    "dropout": null,\n    "unk_token": null,\n    "continuing_subword_prefix": "",\n` +
      `    "end_of_word_suffix": "",\n    "fuse_unk": false,\n    "byte_fallback": false,\n    "ignore_merges": false,\n` +
      `    "vocab": ${orderedJsonObject(vocabEntries, '      ')},\n` +
      `    "merges": [\n${this.mergeList.map((m) => `      ${JSON.stringify(`${m[0]} ${m[1]}`)}`).join(',\n')}\n    ]\n  }`;
    return `${headText.slice(0, -2)},\n  "model": ${model}\n}\n`;
  }

  /**
   * Write `vocab.json`, `merges.txt`, `tokenizer.json`, `tokenizer_config.json` and
   * `special_tokens_map.json` to `dir` (created if needed), each atomically.
   */
  save(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    const vocabEntries: [string, number][] = [];
    for (let id = 0; id < this.idTokens.length; id++) {
      const t = this.idTokens[id];
      if (t !== undefined) vocabEntries.push([t, id]);
    }
    writeFileAtomic(path.join(dir, 'vocab.json'), orderedJsonObject(vocabEntries, '  ') + '\n');
    writeFileAtomic(path.join(dir, 'merges.txt'), '#version: 0.2\n' + this.mergeList.map(([a, b]) => `${a} ${b}\n`).join(''));
    writeFileAtomic(path.join(dir, 'tokenizer.json'), this.toTokenizerJson());
    const special: Record<string, string> = {};
    if (this.bosToken !== null) special.bos_token = this.bosToken;
    if (this.eosToken !== null) special.eos_token = this.eosToken;
    if (this.unkToken !== null) special.unk_token = this.unkToken;
    if (this.padToken !== null) special.pad_token = this.padToken;
    const decoderEntries: [string, unknown][] = this.added.map((t) => [
      String(t.id),
      { content: t.content, lstrip: false, normalized: true, rstrip: false, single_word: false, special: t.special },
    ]);
    const config: Record<string, unknown> = {
      add_prefix_space: false,
      added_tokens_decoder: '__ADDED__',
      ...special,
      clean_up_tokenization_spaces: false,
      tokenizer_class: 'GPT2Tokenizer',
    };
    if (this.modelMaxLength !== undefined) config.model_max_length = this.modelMaxLength;
    const configText = JSON.stringify(config, null, 2).replace('"__ADDED__"', orderedJsonObject(decoderEntries, '    '));
    writeFileAtomic(path.join(dir, 'tokenizer_config.json'), configText + '\n');
    writeFileAtomic(path.join(dir, 'special_tokens_map.json'), JSON.stringify(special, null, 2) + '\n');
  }
}

/** Alias: the GPT-2 tokenizer. */
export { ByteLevelBPETokenizer as GPT2Tokenizer };
