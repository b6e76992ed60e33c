/**
 * Reading and writing the safetensors format (https://github.com/huggingface/safetensors).
 *
 * Layout: an 8-byte little-endian u64 `N`, then `N` bytes of UTF-8 JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}`,
 * then the data buffer; offsets are relative to the start of the buffer. Everything is little
 * endian, whatever the host is.
 *
 * Reading validates as strictly as the reference implementation (and a little more): every
 * problem is a {@link CheckpointError} whose message names the file and what is wrong. Writing
 * produces byte-for-byte what the reference (Rust / Python `safetensors`) writes for the same
 * tensors: tensors ordered by dtype (wider first, so each is aligned to its element size) then by
 * name, `__metadata__` first in the header, compact JSON, header padded with spaces to a multiple
 * of 8 bytes.
 */
import * as fs from 'node:fs';
import { CheckpointError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { bf16ToF32, encodeF32ToBF16, f16ToF32, f32ToF16 } from '../engine/half.js';

// The conversions live in the engine (its backends use them too); re-exported for callers of io.
export { bf16BitsToF32, bf16ToF32, encodeF32ToBF16, f16BitsToF32, f16ToF32, f32ToBF16Bits, f32ToF16, f32ToF16Bits } from '../engine/half.js';

/** The dtypes aigc reads and writes. */
export type Dtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Readonly<Record<Dtype, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** Position of each dtype in the reference implementation's `Dtype` enum (the writer's sort key). */
const DTYPE_RANK: Readonly<Record<Dtype, number>> = {
  BOOL: 0, U8: 1, I8: 2, I16: 5, F16: 7, BF16: 8, I32: 9, F32: 11, F64: 12, I64: 13,
};

/** Largest header accepted, as in the reference implementation (100 MB). */
export const MAX_HEADER_SIZE = 100_000_000;

export function isDtype(x: unknown): x is Dtype {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, x);
}

/** Where a tensor is and what it holds. */
export interface TensorInfo {
  dtype: Dtype;
  shape: number[];
  /** `end - begin` = element size × number of elements. */
  byteLength: number;
  /** `[begin, end)` relative to the start of the data buffer. */
  dataOffsets: [number, number];
}

/** A parsed and validated header. */
export interface SafetensorsHeader {
  path: string;
  /** The `__metadata__` map (empty when absent). */
  metadata: Record<string, string>;
  /** Tensors in header order. */
  tensors: Record<string, TensorInfo>;
  /** `N`, the header length in bytes (including padding). */
  headerLength: number;
  /** File offset of the data buffer: `8 + N`. */
  dataStart: number;
  /** Total file size in bytes. */
  fileSize: number;
}

// ---------------------------------------------------------------------------------------------
// Endianness (half-precision conversions: src/engine/half.ts)

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Copy of `bytes` with every `size`-byte element reversed (only used on big-endian hosts). */
function byteSwapped(bytes: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(bytes.byteLength);
  for (let i = 0; i < bytes.byteLength; i += size) {
    for (let j = 0; j < size; j++) out[i + j] = bytes[i + size - 1 - j]!;
  }
  return out;
}

/** Little-endian bytes of element size `size` as host-order bytes in a buffer of their own (aligned). */
function toHostOrder(bytes: Uint8Array, size: number, copy: boolean): Uint8Array {
  if (!HOST_LE && size > 1) return byteSwapped(bytes, size);
  return copy ? bytes.slice() : bytes;
}

// ---------------------------------------------------------------------------------------------
// Header parsing and validation

function fail(file: string, problem: string): never {
  throw new CheckpointError(`${file}: invalid safetensors file: ${problem}`);
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isNonNegInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** Reads the 8-byte length prefix; checks it against the file size. */
function headerLengthOf(file: string, prefix: Uint8Array, fileSize: number): number {
  if (fileSize < 8) fail(file, `file is ${fileSize} bytes, shorter than the 8-byte header length prefix`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_SIZE)) fail(file, `header length ${n} exceeds the ${MAX_HEADER_SIZE}-byte limit`);
  const len = Number(n);
  if (8 + len > fileSize) fail(file, `header length ${len} goes beyond the end of the file (${fileSize} bytes)`);
  return len;
}

/** Parses and validates header bytes. `bufferLength` is the size of the data buffer after the header. */
function parseHeader(file: string, headerBytes: Uint8Array, fileSize: number): SafetensorsHeader {
  const headerLength = headerBytes.byteLength;
  const bufferLength = fileSize - 8 - headerLength;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    fail(file, 'header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(file, `header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(json)) fail(file, 'header is not a JSON object');

  let metadata: Record<string, string> = {};
  const tensors: Record<string, TensorInfo> = {};
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (entry === null) continue;
      if (!isPlainObject(entry)) fail(file, '__metadata__ is not an object of strings');
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') fail(file, `__metadata__ value for '${k}' is not a string`);
      }
      metadata = { ...(entry as Record<string, string>) };
      continue;
    }
    const where = `tensor '${name}'`;
    if (!isPlainObject(entry)) fail(file, `${where}: entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = entry;
    if (dtype === undefined) fail(file, `${where}: missing dtype`);
    if (shape === undefined) fail(file, `${where}: missing shape`);
    if (offsets === undefined) fail(file, `${where}: missing data_offsets`);
    if (typeof dtype !== 'string') fail(file, `${where}: dtype is not a string`);
    if (!isDtype(dtype)) fail(file, `${where}: unknown or unsupported dtype '${dtype}' (supported: ${Object.keys(DTYPE_SIZE).join(', ')})`);
    if (!Array.isArray(shape)) fail(file, `${where}: shape is not an array`);
    for (const d of shape) {
      if (!isNonNegInt(d)) fail(file, `${where}: shape ${JSON.stringify(shape)} has a dimension that is not a non-negative integer`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2) fail(file, `${where}: data_offsets is not a [begin, end] pair`);
    const [begin, end] = offsets as unknown[];
    if (!isNonNegInt(begin) || !isNonNegInt(end)) fail(file, `${where}: data_offsets ${JSON.stringify(offsets)} are not non-negative integers`);
    if (begin > end) fail(file, `${where}: data_offsets begin ${begin} is after end ${end}`);
    if (end > bufferLength) fail(file, `${where}: data_offsets end ${end} is beyond the end of the data buffer (${bufferLength} bytes)`);
    let count = 1;
    for (const d of shape as number[]) count *= d;
    const expected = count * DTYPE_SIZE[dtype];
    if (!Number.isSafeInteger(expected) || expected !== end - begin) {
      fail(file, `${where}: ${end - begin} bytes of data but dtype ${dtype} × shape [${(shape as number[]).join(', ')}] needs ${expected}`);
    }
    tensors[name] = { dtype, shape: [...(shape as number[])], byteLength: end - begin, dataOffsets: [begin, end] };
  }

  // The ranges, sorted, must tile the buffer exactly: no overlap, no hole, no trailing bytes.
  const sorted = Object.entries(tensors).sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0] || a[1].dataOffsets[1] - b[1].dataOffsets[1]);
  let pos = 0;
  let prev: string | undefined;
  for (const [name, info] of sorted) {
    const [begin, end] = info.dataOffsets;
    if (begin < pos) fail(file, `tensors '${prev}' and '${name}' overlap (byte ${begin} < ${pos})`);
    if (begin > pos) fail(file, `bytes ${pos}..${begin} of the data buffer belong to no tensor (hole before '${name}')`);
    pos = end;
    prev = name;
  }
  if (pos !== bufferLength) {
    fail(file, `the data buffer has ${bufferLength} bytes but the tensors cover only ${pos} (${bufferLength - pos} trailing bytes)`);
  }
  return { path: file, metadata, tensors, headerLength, dataStart: 8 + headerLength, fileSize };
}

/** Reads exactly `length` bytes at `position` (loops over short reads; chunks of at most 1 GiB). */
function readExactly(fd: number, file: string, out: Uint8Array, position: number): void {
  let off = 0;
  while (off < out.byteLength) {
    const want = Math.min(out.byteLength - off, 1 << 30);
    const n = fs.readSync(fd, out, off, want, position + off);
    if (n === 0) fail(file, `unexpected end of file at byte ${position + off}`);
    off += n;
  }
}

/**
 * Reads and validates only the header of a safetensors file (cheap even for multi-GB files).
 * Throws {@link CheckpointError} on any malformation, or when the file cannot be read.
 */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new CheckpointError(`${file}: cannot open safetensors file: ${(e as Error).message}`, { cause: e });
  }
  try {
    const fileSize = fs.fstatSync(fd).size;
    const prefix = new Uint8Array(8);
    if (fileSize >= 8) readExactly(fd, file, prefix, 0);
    const len = headerLengthOf(file, prefix, fileSize);
    const headerBytes = new Uint8Array(len);
    readExactly(fd, file, headerBytes, 8);
    return parseHeader(file, headerBytes, fileSize);
  } finally {
    fs.closeSync(fd);
  }
}

/** Options of {@link readSafetensors}. */
export interface ReadSafetensorsOptions {
  /**
   * How tensor data is accessed.
   * - `'memory'`: the whole file is read into memory once; `getRaw` and (aligned, little-endian
   *   host) `getFloat32` of F32 tensors return zero-copy views into it.
   * - `'lazy'`: only the header is read; every access reads that tensor's bytes from the file
   *   (fresh arrays each time). Needed for files of more than ~2 GiB.
   * - `'auto'` (default): `'memory'` for files up to {@link ReadSafetensorsOptions.maxInMemoryBytes}, else `'lazy'`.
   */
  mode?: 'memory' | 'lazy' | 'auto';
  /** Threshold for `'auto'`. Default 1 GiB. */
  maxInMemoryBytes?: number;
}

/**
 * Reads and validates a safetensors file. See {@link ReadSafetensorsOptions} for memory use.
 * Throws {@link CheckpointError} when the file is unreadable or malformed.
 */
export function readSafetensors(file: string, opts: ReadSafetensorsOptions = {}): SafetensorsFile {
  const header = readSafetensorsHeader(file);
  const mode = opts.mode ?? 'auto';
  const inMemory = mode === 'memory' || (mode === 'auto' && header.fileSize <= (opts.maxInMemoryBytes ?? 2 ** 30));
  if (!inMemory) return new SafetensorsFile(header, undefined);
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (size !== header.fileSize) fail(file, 'file changed while being read');
    const bytes = new Uint8Array(new ArrayBuffer(size));
    readExactly(fd, file, bytes, 0);
    return parseSafetensors(bytes, file);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Parses and validates a safetensors file held in memory. `label` names it in error messages.
 * Accessors return zero-copy views into `bytes` where possible.
 */
export function parseSafetensors(bytes: Uint8Array, label = '<buffer>'): SafetensorsFile {
  const len = headerLengthOf(label, bytes, bytes.byteLength);
  const header = parseHeader(label, bytes.subarray(8, 8 + len), bytes.byteLength);
  return new SafetensorsFile(header, bytes);
}

/** Raw bytes of one tensor, little endian as stored. */
export interface RawTensor {
  dtype: Dtype;
  shape: number[];
  bytes: Uint8Array;
}

/** The typed array natural for each dtype (F16/BF16 as raw bits, BOOL as 0/1 bytes). */
export type TypedArrayFor<D extends Dtype> = D extends 'F64' ? Float64Array
  : D extends 'F32' ? Float32Array
  : D extends 'F16' | 'BF16' ? Uint16Array
  : D extends 'I64' ? BigInt64Array
  : D extends 'I32' ? Int32Array
  : D extends 'I16' ? Int16Array
  : D extends 'I8' ? Int8Array
  : Uint8Array;

export type AnyTypedArray = Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/** A validated safetensors file. Create with {@link readSafetensors} or {@link parseSafetensors}. */
export class SafetensorsFile {
  readonly path: string;
  readonly metadata: Record<string, string>;
  readonly header: SafetensorsHeader;
  /** Whole-file bytes in `'memory'` mode; undefined in `'lazy'` mode. */
  private readonly bytes: Uint8Array | undefined;

  constructor(header: SafetensorsHeader, bytes: Uint8Array | undefined) {
    this.header = header;
    this.path = header.path;
    this.metadata = header.metadata;
    this.bytes = bytes;
  }

  /** Tensor names, sorted. */
  names(): string[] {
    return Object.keys(this.header.tensors).sort();
  }

  has(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.header.tensors, name);
  }

  /** dtype, shape, byte length and offsets of a tensor. Throws CheckpointError if absent. */
  info(name: string): TensorInfo {
    if (!this.has(name)) throw new CheckpointError(`${this.path}: no tensor named '${name}'`);
    return this.header.tensors[name]!;
  }

  /** Little-endian bytes as stored, plus whether they are a view into shared memory. */
  private bytesOf(name: string): { bytes: Uint8Array; shared: boolean } {
    const info = this.info(name);
    const [begin, end] = info.dataOffsets;
    const start = this.header.dataStart + begin;
    if (this.bytes) return { bytes: this.bytes.subarray(start, this.header.dataStart + end), shared: true };
    const fd = fs.openSync(this.path, 'r');
    try {
      if (fs.fstatSync(fd).size !== this.header.fileSize) fail(this.path, 'file changed since its header was read');
      const out = new Uint8Array(new ArrayBuffer(end - begin));
      readExactly(fd, this.path, out, start);
      return { bytes: out, shared: false };
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Raw little-endian bytes of a tensor. In `'memory'` mode a zero-copy view into the file's
   * buffer (treat as read-only); in `'lazy'` mode a fresh copy.
   */
  getRaw(name: string): RawTensor {
    const info = this.info(name);
    return { dtype: info.dtype, shape: [...info.shape], bytes: this.bytesOf(name).bytes };
  }

  /** Host-order bytes in an ArrayBuffer region aligned for the dtype; may alias the file buffer. */
  private alignedHostBytes(name: string, allowShared: boolean): Uint8Array {
    const info = this.info(name);
    const size = DTYPE_SIZE[info.dtype];
    const { bytes, shared } = this.bytesOf(name);
    const aligned = bytes.byteOffset % size === 0;
    return toHostOrder(bytes, size, (shared && !allowShared) || !aligned);
  }

  /**
   * The tensor as the typed array of its own dtype (F16/BF16 as raw Uint16 bits, BOOL as bytes).
   * Always a fresh copy unless `view` is true, in which case a zero-copy view is returned when
   * possible (memory mode, aligned, little-endian host) — treat such a view as read-only.
   */
  getTyped(name: string, view = false): AnyTypedArray {
    const info = this.info(name);
    const b = this.alignedHostBytes(name, view);
    const n = b.byteLength / DTYPE_SIZE[info.dtype];
    switch (info.dtype) {
      case 'F64': return new Float64Array(b.buffer, b.byteOffset, n);
      case 'F32': return new Float32Array(b.buffer, b.byteOffset, n);
      case 'F16': case 'BF16': return new Uint16Array(b.buffer, b.byteOffset, n);
      case 'I64': return new BigInt64Array(b.buffer, b.byteOffset, n);
      case 'I32': return new Int32Array(b.buffer, b.byteOffset, n);
      case 'I16': return new Int16Array(b.buffer, b.byteOffset, n);
      case 'I8': return new Int8Array(b.buffer, b.byteOffset, n);
      case 'U8': case 'BOOL': return new Uint8Array(b.buffer, b.byteOffset, n);
    }
  }

  /**
   * The tensor as float32. F32 tensors come back as a zero-copy view of the file's memory when
   * the data is 4-byte aligned (memory mode, little-endian host; treat it as read-only, or pass
   * `copy: true`), else as a copy. F16, BF16 and F64 are converted (F64 rounds to nearest);
   * integer and BOOL tensors are converted to their float values (I64 beyond 2^24 loses precision).
   */
  getFloat32(name: string, opts: { copy?: boolean } = {}): Float32Array {
    const info = this.info(name);
    if (info.dtype === 'F32') return this.getTyped(name, !opts.copy) as Float32Array;
    const t = this.getTyped(name, true);
    if (info.dtype === 'F16') return f16ToF32(t as Uint16Array);
    if (info.dtype === 'BF16') return bf16ToF32(t as Uint16Array);
    const out = new Float32Array(t.length);
    if (t instanceof BigInt64Array) for (let i = 0; i < t.length; i++) out[i] = Number(t[i]!);
    else out.set(t as ArrayLike<number>);
    return out;
  }

  /** An I64 tensor as a fresh BigInt64Array. Throws CheckpointError for other dtypes. */
  getBigInt64(name: string): BigInt64Array {
    const info = this.info(name);
    if (info.dtype !== 'I64') throw new CheckpointError(`${this.path}: tensor '${name}' is ${info.dtype}, not I64`);
    return this.getTyped(name, false) as BigInt64Array;
  }

  /**
   * An integer tensor (I64, I32, I16, I8, U8, BOOL) as plain numbers. Throws CheckpointError for
   * float dtypes, or when an I64 value is outside ±(2^53 − 1) and would not be exact.
   */
  getInt64AsNumbers(name: string): number[] {
    const info = this.info(name);
    const t = this.getTyped(name, true);
    if (t instanceof BigInt64Array) {
      const out = new Array<number>(t.length);
      for (let i = 0; i < t.length; i++) {
        const v = t[i]!;
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new CheckpointError(`${this.path}: tensor '${name}' element ${i} (${v}) is too large for a JavaScript number`);
        }
        out[i] = Number(v);
      }
      return out;
    }
    if (info.dtype.startsWith('F') || info.dtype === 'BF16') {
      throw new CheckpointError(`${this.path}: tensor '${name}' is ${info.dtype}, not an integer dtype`);
    }
    return Array.from(t as ArrayLike<number>);
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * A tensor to write. `data` holds the elements in row-major order:
 * - any typed array (or DataView) whose bytes are exactly the little-endian encoding for
 *   `dtype` on this host — e.g. Float32Array for F32, Uint16Array bits for F16/BF16,
 *   BigInt64Array for I64, Int8Array/Uint8Array for I8/U8/BOOL;
 * - or, for F16 and BF16, a Float32Array, converted with round-to-nearest-even.
 * Its byte length must be element size × product(shape).
 */
export interface TensorToWrite {
  dtype: Dtype;
  shape: readonly number[];
  data: ArrayBufferView;
}

function writeFail(target: string, problem: string): never {
  throw new CheckpointError(`${target}: cannot write safetensors: ${problem}`, { code: 'internal' });
}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Encodes tensors as safetensors chunks (header first, then each tensor's bytes), laid out as
 * the reference implementation does. `target` only names the output in error messages.
 */
export function encodeSafetensors(
  tensors: Record<string, TensorToWrite>,
  metadata?: Record<string, string>,
  target = '<buffer>',
): Uint8Array[] {
  const entries: { name: string; dtype: Dtype; shape: number[]; bytes: Uint8Array }[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    if (name === '__metadata__') writeFail(target, `'__metadata__' cannot be a tensor name`);
    if (!isDtype(t.dtype)) writeFail(target, `tensor '${name}': unknown dtype '${String(t.dtype)}'`);
    if (!Array.isArray(t.shape) || !t.shape.every(isNonNegInt)) {
      writeFail(target, `tensor '${name}': shape ${JSON.stringify(t.shape)} must be non-negative integers`);
    }
    const size = DTYPE_SIZE[t.dtype];
    const count = t.shape.reduce((a, b) => a * b, 1);
    let data: ArrayBufferView = t.data;
    if ((t.dtype === 'F16' || t.dtype === 'BF16') && data instanceof Float32Array) {
      data = t.dtype === 'F16' ? f32ToF16(data) : encodeF32ToBF16(data);
    }
    if (!ArrayBuffer.isView(data)) writeFail(target, `tensor '${name}': data is not a typed array`);
    if (data.byteLength !== count * size) {
      writeFail(target, `tensor '${name}': data has ${data.byteLength} bytes but dtype ${t.dtype} × shape [${t.shape.join(', ')}] needs ${count * size}`);
    }
    let bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (!HOST_LE && size > 1) bytes = byteSwapped(bytes, size);
    entries.push({ name, dtype: t.dtype, shape: [...t.shape], bytes });
  }
  if (metadata !== undefined) {
    if (!isPlainObject(metadata)) writeFail(target, 'metadata must be an object of strings');
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') writeFail(target, `metadata value for '${k}' is not a string`);
    }
  }
  entries.sort((a, b) => DTYPE_RANK[b.dtype] - DTYPE_RANK[a.dtype] || compareUtf8(a.name, b.name));

  // Build the header JSON by hand to control key order exactly (serde_json compact output).
  const parts: string[] = [];
  if (metadata !== undefined) {
    const m = Object.entries(metadata).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
    parts.push(`"__metadata__":{${m.join(',')}}`);
  }
  let offset = 0;
  for (const e of entries) {
    const end = offset + e.bytes.byteLength;
    parts.push(`${JSON.stringify(e.name)}:{"dtype":"${e.dtype}","shape":[${e.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  let headerText = `{${parts.join(',')}}`;
  const headerLen = Buffer.byteLength(headerText, 'utf8');
  headerText += ' '.repeat((8 - (headerLen % 8)) % 8);
  const headerBytes = Buffer.from(headerText, 'utf8');
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  return [prefix, new Uint8Array(headerBytes.buffer, headerBytes.byteOffset, headerBytes.byteLength), ...entries.map((e) => e.bytes)];
}

/** {@link encodeSafetensors} concatenated into one buffer. */
export function serializeSafetensors(tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array {
  return new Uint8Array(Buffer.concat(encodeSafetensors(tensors, metadata)));
}

/**
 * Writes tensors to `file` in safetensors format, atomically (temp file + rename, see atomic.ts).
 * @param tensors name → {@link TensorToWrite}. Laid out contiguously, ordered by dtype then name.
 * @param metadata optional `__metadata__` string map (omitted from the header when undefined).
 * Throws {@link CheckpointError} (code `'internal'`) when a tensor's data does not match its
 * dtype and shape.
 */
export function writeSafetensors(file: string, tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): void {
  writeFileAtomic(file, encodeSafetensors(tensors, metadata, file));
}
