/**
 * Text training data: plain text files and folders, and JSONL for instruction tuning
 * (`{"prompt","completion"}` or chat `{"messages":[{"role","content"}...]}`).
 *
 * Reading validates everything up front and names the file and line of the first problem:
 * an empty file, bytes that are not UTF-8 text (binary junk), a JSONL line that is not JSON
 * or not one of the two shapes. Tokenized data is a token stream plus a per-token loss mask
 * and a list of segments (the rows training draws), cached as binary files so a corpus is
 * tokenized once.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataError } from '../errors.js';
import { writeFileAtomic, writeJsonAtomic } from './atomic.js';

export interface ChatMessage {
  role: string;
  content: string;
}

/** One training document. `text`: loss on every token; `pair` and `chat`: loss on the answers only. */
export type TextDocument =
  | { kind: 'text'; text: string; source: string }
  | { kind: 'pair'; prompt: string; completion: string; source: string }
  | { kind: 'chat'; messages: ChatMessage[]; source: string };

const TEXT_EXTENSIONS = new Set(['.txt', '.text', '.md', '.jsonl', '']);

/** Files named by `inputs`: files as given, folders walked recursively (sorted; hidden files and non-text extensions skipped). */
export function collectDataFiles(inputs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && TEXT_EXTENSIONS.has(path.extname(e.name).toLowerCase())) out.push(p);
    }
  };
  for (const input of inputs) {
    let st: fs.Stats;
    try {
      st = fs.statSync(input);
    } catch {
      throw new DataError(`data file or folder ${input} does not exist`);
    }
    if (st.isDirectory()) {
      const before = out.length;
      walk(input);
      if (out.length === before) throw new DataError(`data folder ${input} has no text files (.txt, .md, .jsonl or no extension)`);
    } else out.push(input);
  }
  if (out.length === 0) throw new DataError('no data files given');
  return out;
}

function lineOf(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < bytes.length; i++) if (bytes[i] === 10) line++;
  return line;
}

/** Offset of the first byte that makes `bytes` invalid UTF-8, or -1. */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i];
    if (c < 0x80) { i++; continue; }
    let need: number, min: number;
    if (c >= 0xc2 && c <= 0xdf) { need = 1; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { need = 2; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { need = 3; min = 0x10000; }
    else return i;
    let cp = c & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/**
 * Reads a text file as UTF-8, rejecting empty files and binary content (invalid UTF-8, NUL or
 * other control bytes) with an error naming the file and the line.
 */
export function readTextFile(file: string): string {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new DataError(`cannot read data file ${file}: ${(e as Error).message}`);
  }
  let start = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3; // BOM
  const body = bytes.subarray(start);
  if (body.every((x) => x === 9 || x === 10 || x === 13 || x === 32)) {
    throw new DataError(`${file}: the file is empty (no text to train on)`);
  }
  const bad = firstInvalidUtf8(body);
  if (bad >= 0) {
    throw new DataError(`${file}:${lineOf(body, bad)}: not UTF-8 text (byte 0x${body[bad].toString(16).padStart(2, '0')} at offset ${bad + start}); is this a binary file?`);
  }
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    // Control characters other than tab, newline, carriage return, form feed and escape mean binary data.
    if (c < 32 && c !== 9 && c !== 10 && c !== 13 && c !== 12 && c !== 27) {
      throw new DataError(`${file}:${lineOf(body, i)}: control byte 0x${c.toString(16).padStart(2, '0')} at offset ${i + start}; is this a binary file?`);
    }
  }
  return Buffer.from(body).toString('utf8');
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? `an object with keys ${JSON.stringify(Object.keys(x as object))}` : `a ${typeof x}`;
}

/** Parses a JSONL file of `{"prompt","completion"}` or `{"messages":[...]}` records (blank lines skipped). */
export function readJsonlFile(file: string): TextDocument[] {
  const text = readTextFile(file);
  const docs: TextDocument[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].replace(/\r$/, '');
    if (raw.trim() === '') continue;
    const where = `${file}:${i + 1}`;
    let rec: unknown;
    try {
      rec = JSON.parse(raw);
    } catch (e) {
      throw new DataError(`${where}: invalid JSON (${(e as Error).message})`);
    }
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) {
      throw new DataError(`${where}: expected an object {"prompt","completion"} or {"messages":[...]}, got ${describe(rec)}`);
    }
    const r = rec as Record<string, unknown>;
    if ('messages' in r) {
      if (!Array.isArray(r.messages) || r.messages.length === 0) throw new DataError(`${where}: "messages" must be a non-empty array`);
      const messages: ChatMessage[] = r.messages.map((m, j) => {
        if (typeof m !== 'object' || m === null || typeof (m as ChatMessage).role !== 'string' || typeof (m as ChatMessage).content !== 'string') {
          throw new DataError(`${where}: messages[${j}] must be {"role": string, "content": string}, got ${describe(m)}`);
        }
        const role = (m as ChatMessage).role;
        if (!['system', 'user', 'assistant'].includes(role)) throw new DataError(`${where}: messages[${j}].role must be "system", "user" or "assistant", got ${JSON.stringify(role)}`);
        return { role, content: (m as ChatMessage).content };
      });
      if (!messages.some((m) => m.role === 'assistant')) throw new DataError(`${where}: no "assistant" message: nothing to learn from this record`);
      docs.push({ kind: 'chat', messages, source: where });
    } else if ('prompt' in r || 'completion' in r) {
      if (typeof r.prompt !== 'string') throw new DataError(`${where}: "prompt" must be a string, got ${describe(r.prompt)}`);
      if (typeof r.completion !== 'string' || r.completion === '') throw new DataError(`${where}: "completion" must be a non-empty string, got ${describe(r.completion)}`);
      docs.push({ kind: 'pair', prompt: r.prompt, completion: r.completion, source: where });
    } else {
      throw new DataError(`${where}: expected {"prompt","completion"} or {"messages":[...]}, got ${describe(rec)}`);
    }
  }
  if (docs.length === 0) throw new DataError(`${file}: no records (the JSONL file has only blank lines)`);
  return docs;
}

/** Reads every file: `.jsonl` as instruction records, anything else as one plain-text document. */
export function readDocuments(files: readonly string[]): TextDocument[] {
  const docs: TextDocument[] = [];
  for (const f of files) {
    if (path.extname(f).toLowerCase() === '.jsonl') docs.push(...readJsonlFile(f));
    else docs.push({ kind: 'text', text: readTextFile(f), source: f });
  }
  return docs;
}

// ---- chat format ---------------------------------------------------------------------------

/**
 * How chat records become text: the plain transcript aigc's chat template (src/text/chat.ts)
 * renders for GPT-2 models: the system text on its own line, "User: …\n", "Assistant: …\n".
 * The loss covers each assistant reply (" …\n") and the end-of-text token closing the record.
 */
export const CHAT_FORMAT = {
  system: (c: string) => `${c}\n`,
  user: (c: string) => `User: ${c}\n`,
  assistantPrefix: 'Assistant:',
  assistant: (c: string) => ` ${c}\n`,
} as const;

/** The same format as a Jinja chat template (saved in tokenizer_config.json for transformers). */
export const CHAT_TEMPLATE_JINJA =
  "{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] + '\\n' }}" +
  "{% elif message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\\n' }}" +
  "{% else %}{{ 'Assistant: ' + message['content'] + '\\n' }}{% endif %}{% endfor %}" +
  "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";

// ---- tokenized data ------------------------------------------------------------------------

/** What the data layer needs of a tokenizer. */
export interface TextEncoderLike {
  encode(text: string): number[];
  readonly vocabSize: number;
  readonly eosTokenId: number | null;
}

/**
 * A tokenized corpus. `mask[i]` = 1 when token i is a training target (predicted from the
 * tokens before it). Segments `[start, length]` are the rows training draws: fixed windows of
 * plain text, one per record for instruction data.
 */
export interface TokenizedData {
  tokens: Uint16Array | Uint32Array;
  mask: Uint8Array;
  segments: Uint32Array; // pairs [start, length]
  /** True when every segment is a whole instruction record (rows are padded, not packed). */
  instruction: boolean;
}

export function numSegments(d: TokenizedData): number {
  return d.segments.length / 2;
}

/** Tokenizes documents into one stream; instruction records become one segment each (prompt masked out). */
export function tokenizeDocuments(docs: readonly TextDocument[], tok: TextEncoderLike, opts: { onProgress?: (done: number, total: number) => void } = {}): { tokens: number[]; mask: number[]; records: [number, number][] } {
  const eos = tok.eosTokenId;
  const tokens: number[] = [], mask: number[] = [];
  const records: [number, number][] = [];
  const push = (ids: number[], m: number): void => {
    for (const id of ids) { tokens.push(id); mask.push(m); }
  };
  let done = 0;
  for (const d of docs) {
    const start = tokens.length;
    if (d.kind === 'text') {
      // Large texts are encoded in paragraph-sized pieces (identical ids at blank-line boundaries).
      const parts = d.text.split(/(?<=\n\n)/);
      for (const p of parts) push(tok.encode(p), 1);
      if (eos !== null) push([eos], 1);
    } else {
      if (eos === null) throw new DataError(`${d.source}: instruction data needs a tokenizer with an end-of-text token`);
      if (d.kind === 'pair') {
        push(tok.encode(d.prompt), 0);
        push(tok.encode(d.completion), 1);
        push([eos], 1);
      } else {
        for (const m of d.messages) {
          if (m.role === 'assistant') {
            push(tok.encode(CHAT_FORMAT.assistantPrefix), 0);
            push(tok.encode(CHAT_FORMAT.assistant(m.content)), 1);
          } else push(tok.encode(m.role === 'system' ? CHAT_FORMAT.system(m.content) : CHAT_FORMAT.user(m.content)), 0);
        }
        push([eos], 1);
      }
      records.push([start, tokens.length - start]);
    }
    opts.onProgress?.(++done, docs.length);
  }
  return { tokens, mask, records };
}

/**
 * Splits tokenized documents into train and validation data. Plain text: the last `valFraction`
 * of the stream is validation, both cut into windows of blockSize+1 tokens at stride blockSize.
 * Instruction records: a seeded shuffle puts `valFraction` of the records in validation.
 */
export function splitTrainVal(
  t: { tokens: number[]; mask: number[]; records: [number, number][] },
  blockSize: number, valFraction: number, vocabSize: number, seed = 0,
): { train: TokenizedData; val: TokenizedData | null } {
  const Arr = vocabSize <= 65536 ? Uint16Array : Uint32Array;
  const tokens = Arr.from(t.tokens);
  const mask = Uint8Array.from(t.mask);
  const instruction = t.records.length > 0;
  if (instruction) {
    if (t.tokens.length !== t.records.reduce((n, r) => n + r[1], 0)) {
      throw new DataError('training data mixes plain text and instruction (JSONL) files; use one kind per run');
    }
    const order = t.records.map((_, i) => i);
    // A deterministic shuffle (splitmix) so the split does not depend on file order alone.
    let s = seed >>> 0;
    const rnd = () => { s = (s + 0x9e3779b9) | 0; let z = s; z = Math.imul(z ^ (z >>> 16), 0x85ebca6b); z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35); return ((z ^ (z >>> 16)) >>> 0) / 4294967296; };
    for (let i = order.length - 1; i > 0; i--) { const j = Math.floor(rnd() * (i + 1)); [order[i], order[j]] = [order[j], order[i]]; }
    const nVal = valFraction > 0 && order.length > 1 ? Math.max(1, Math.round(order.length * valFraction)) : 0;
    const seg = (ids: number[]) => Uint32Array.from(ids.flatMap((i) => t.records[i]));
    const valIds = order.slice(0, nVal).sort((a, b) => a - b), trainIds = order.slice(nVal).sort((a, b) => a - b);
    return {
      train: { tokens, mask, segments: seg(trainIds), instruction: true },
      val: nVal ? { tokens, mask, segments: seg(valIds), instruction: true } : null,
    };
  }
  const n = tokens.length;
  const windows = (from: number, to: number): Uint32Array => {
    const out: number[] = [];
    for (let s = from; s + 1 < to; s += blockSize) out.push(s, Math.min(blockSize + 1, to - s));
    return Uint32Array.from(out);
  };
  let cut = n;
  if (valFraction > 0) {
    cut = Math.floor(n * (1 - valFraction));
    if (n - cut < 2 || cut < 2) cut = n; // too little text for a validation split
  }
  return {
    train: { tokens, mask, segments: windows(0, cut), instruction: false },
    val: cut < n ? { tokens, mask, segments: windows(cut, n), instruction: false } : null,
  };
}

// ---- binary cache ---------------------------------------------------------------------------

export function defaultTokenCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.AIGC_CACHE) return path.join(env.AIGC_CACHE, 'tokens');
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'aigc', 'tokens');
}

/** A key for the cache: the files' paths, sizes and mtimes, the tokenizer's identity, and the split settings. */
export function tokenCacheKey(files: readonly string[], tokenizerId: string, settings: unknown): string {
  const h = crypto.createHash('sha256');
  for (const f of files) {
    const st = fs.statSync(f);
    h.update(`${path.resolve(f)}\0${st.size}\0${st.mtimeMs}\0`);
  }
  h.update(tokenizerId);
  h.update(JSON.stringify(settings));
  return h.digest('hex').slice(0, 24);
}

interface CacheMeta {
  version: 1;
  dtype: 'u16' | 'u32';
  tokens: number;
  instruction: boolean;
  train_segments: number;
  val_segments: number;
  files: string[];
}

/** Writes tokenized data as `tokens.bin`, `mask.bin`, `train_segments.bin`, `val_segments.bin` and `meta.json`. */
export function saveTokenCache(dir: string, d: { train: TokenizedData; val: TokenizedData | null }, files: readonly string[]): void {
  fs.mkdirSync(dir, { recursive: true });
  const u8 = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  writeFileAtomic(path.join(dir, 'tokens.bin'), u8(d.train.tokens));
  writeFileAtomic(path.join(dir, 'mask.bin'), d.train.mask);
  writeFileAtomic(path.join(dir, 'train_segments.bin'), u8(d.train.segments));
  writeFileAtomic(path.join(dir, 'val_segments.bin'), u8(d.val?.segments ?? new Uint32Array(0)));
  const meta: CacheMeta = {
    version: 1, dtype: d.train.tokens instanceof Uint16Array ? 'u16' : 'u32', tokens: d.train.tokens.length,
    instruction: d.train.instruction, train_segments: d.train.segments.length / 2, val_segments: (d.val?.segments.length ?? 0) / 2,
    files: files.map((f) => path.resolve(f)),
  };
  writeJsonAtomic(path.join(dir, 'meta.json'), meta); // last: its presence marks a complete cache
}

/** Reads a cache written by {@link saveTokenCache}, or null when it is missing or incomplete. */
export function loadTokenCache(dir: string): { train: TokenizedData; val: TokenizedData | null } | null {
  const metaFile = path.join(dir, 'meta.json');
  if (!fs.existsSync(metaFile)) return null;
  try {
    const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as CacheMeta;
    const read = (name: string) => {
      const b = fs.readFileSync(path.join(dir, name));
      const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
      return ab;
    };
    const tokens = meta.dtype === 'u16' ? new Uint16Array(read('tokens.bin')) : new Uint32Array(read('tokens.bin'));
    const mask = new Uint8Array(read('mask.bin'));
    const trainSeg = new Uint32Array(read('train_segments.bin'));
    const valSeg = new Uint32Array(read('val_segments.bin'));
    if (tokens.length !== meta.tokens || mask.length !== meta.tokens || trainSeg.length !== meta.train_segments * 2) return null;
    return {
      train: { tokens, mask, segments: trainSeg, instruction: meta.instruction },
      val: valSeg.length ? { tokens, mask, segments: valSeg, instruction: meta.instruction } : null,
    };
  } catch {
    return null;
  }
}
