/**
 * Image decoding and encoding through `sharp` (libvips): PNG, JPEG, WebP (and whatever else
 * libvips reads) in; PNG out. Pixels move in and out as float32 planes, CHW, values in [0, 1].
 *
 * sharp cannot write PNG text chunks, so `encodePng` inserts tEXt chunks (keyword, Latin-1
 * text, CRC-32) into the PNG bytes sharp produced, right after IHDR; `readPngText` reads them
 * back. The codec itself is libpng's, via sharp.
 */
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { DataError } from '../errors.js';

/** Files the image-folder loader picks up. */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp'];

export interface DecodeOptions {
  /** Output is size×size: resized so the shorter side is `size`, then centre-cropped. */
  size: number;
  /** 1 (grayscale) or 3 (RGB). Alpha is dropped (composited on black). */
  channels: 1 | 3;
}

/** Decodes an image file or buffer to CHW float32 in [0, 1]. Throws DataError when it cannot be decoded. */
export async function decodeImage(input: string | Buffer, opts: DecodeOptions): Promise<Float32Array> {
  let raw: Buffer;
  try {
    let img = sharp(input, { failOn: 'error' }).rotate().resize(opts.size, opts.size, { fit: 'cover', position: 'centre' }).removeAlpha();
    img = opts.channels === 1 ? img.grayscale() : img.toColourspace('srgb');
    raw = await img.raw().toBuffer();
  } catch (e) {
    throw new DataError(`${typeof input === 'string' ? input : 'image'}: cannot decode (${(e as Error).message})`, { cause: e });
  }
  const n = opts.size * opts.size, c = opts.channels;
  if (raw.length !== n * c) throw new DataError(`${typeof input === 'string' ? input : 'image'}: decoded to ${raw.length} bytes, expected ${n * c}`);
  return hwcBytesToChw(raw, c, n);
}

function hwcBytesToChw(raw: Uint8Array, c: number, n: number): Float32Array {
  const out = new Float32Array(c * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < c; k++) out[k * n + i] = raw[i * c + k] / 255;
  return out;
}

/** CHW float planes in [0, 1] (clamped) to interleaved HWC bytes. */
export function chwToHwcBytes(chw: ArrayLike<number>, channels: number, height: number, width: number): Buffer {
  const n = height * width;
  const out = Buffer.alloc(n * channels);
  for (let k = 0; k < channels; k++) {
    for (let i = 0; i < n; i++) {
      const v = chw[k * n + i];
      out[i * channels + k] = v > 0 ? (v < 1 ? Math.round(v * 255) : 255) : 0;
    }
  }
  return out;
}

/** Resizes CHW planes (bilinear-ish, libvips) — used when a data set's size differs from the preset's. */
export async function resizeChw(chw: Float32Array, channels: number, from: number, to: number, toChannels: number): Promise<Float32Array> {
  let img = sharp(chwToHwcBytes(chw, channels, from, from), { raw: { width: from, height: from, channels: channels as 1 | 3 } });
  if (to !== from) img = img.resize(to, to, { fit: 'fill' });
  if (toChannels === 1) img = img.toColourspace('b-w');
  const raw = await img.raw().toBuffer({ resolveWithObject: true });
  const c = raw.info.channels, n = to * to, data = new Float32Array(toChannels * n);
  // Gray -> RGB replicates the plane; RGB -> gray was converted above (the first channel holds it).
  for (let k = 0; k < toChannels; k++) for (let i = 0; i < n; i++) data[k * n + i] = raw.data[i * c + Math.min(k, c - 1)] / 255;
  return data;
}

export interface EncodeOptions {
  /** tEXt chunks to add: keyword (1-79 Latin-1 chars) -> text. */
  text?: Record<string, string>;
}

/** Encodes CHW float planes in [0, 1] as a PNG (8-bit gray or RGB), with optional text metadata. */
export async function encodePng(chw: ArrayLike<number>, channels: number, height: number, width: number, opts: EncodeOptions = {}): Promise<Buffer> {
  let img = sharp(chwToHwcBytes(chw, channels, height, width), { raw: { width, height, channels: channels as 1 | 3 } });
  if (channels === 1) img = img.toColourspace('b-w'); // an 8-bit grayscale PNG, not RGB
  const png = await img
    .png({ compressionLevel: 9 })
    .toBuffer();
  return opts.text ? addPngText(png, opts.text) : png;
}

/**
 * Lays out images (each CHW, same size) in a grid with `pad` pixels of `background` between
 * and around them; returns the grid as CHW planes and its size.
 */
export function gridChw(images: ArrayLike<number>[], channels: number, size: number, cols: number, pad = 2, background = 1): { data: Float32Array; height: number; width: number } {
  const n = images.length;
  const c = Math.max(1, Math.min(cols, n)), rows = Math.max(1, Math.ceil(n / c));
  const width = c * size + (c + 1) * pad, height = rows * size + (rows + 1) * pad;
  const out = new Float32Array(channels * height * width).fill(background);
  images.forEach((img, idx) => {
    const r = Math.floor(idx / c), q = idx % c;
    const y0 = pad + r * (size + pad), x0 = pad + q * (size + pad);
    for (let k = 0; k < channels; k++) {
      for (let y = 0; y < size; y++) {
        const src = k * size * size + y * size, dst = k * height * width + (y0 + y) * width + x0;
        for (let x = 0; x < size; x++) out[dst + x] = img[src + x];
      }
    }
  });
  return { data: out, height, width };
}

// ---- PNG text chunks ---------------------------------------------------------------------------

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** One PNG chunk: length, type, data, CRC-32 over type and data. */
export function pngChunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data, crc32(head.subarray(4, 8))) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

function textChunkData(keyword: string, text: string): Buffer {
  if (!/^[\x20-\x7e\xa1-\xff]{1,79}$/.test(keyword) || keyword.startsWith(' ') || keyword.endsWith(' ')) {
    throw new DataError(`PNG text keyword must be 1-79 printable Latin-1 characters without leading/trailing spaces, got "${keyword}"`);
  }
  // tEXt is Latin-1; anything else is escaped so the chunk stays valid.
  const safe = text.replace(/[^\x20-\x7e\xa1-\xff\n]/g, (ch) => `\\u{${ch.codePointAt(0)!.toString(16)}}`);
  return Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0]), Buffer.from(safe, 'latin1')]);
}

/** Inserts tEXt chunks after IHDR of a PNG. */
export function addPngText(png: Buffer, text: Record<string, string>): Buffer {
  if (png.length < 33 || !png.subarray(0, 8).equals(PNG_SIGNATURE) || png.toString('latin1', 12, 16) !== 'IHDR') {
    throw new DataError('addPngText: not a PNG (no signature / IHDR)');
  }
  const ihdrEnd = 8 + 12 + png.readUInt32BE(8);
  const chunks = Object.entries(text).map(([k, v]) => pngChunk('tEXt', textChunkData(k, v)));
  return Buffer.concat([png.subarray(0, ihdrEnd), ...chunks, png.subarray(ihdrEnd)]);
}

/** The tEXt chunks of a PNG as keyword -> text; verifies every chunk's CRC. */
export function readPngText(png: Uint8Array): Record<string, string> {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (buf.length < 8 || !buf.subarray(0, 8).equals(PNG_SIGNATURE)) throw new DataError('readPngText: not a PNG');
  const out: Record<string, string> = {};
  let o = 8;
  while (o + 12 <= buf.length) {
    const len = buf.readUInt32BE(o), type = buf.toString('latin1', o + 4, o + 8);
    if (o + 12 + len > buf.length) throw new DataError(`readPngText: chunk ${type} at byte ${o} runs past the end`);
    const data = buf.subarray(o + 8, o + 8 + len);
    const crc = buf.readUInt32BE(o + 8 + len);
    if ((crc32(data, crc32(buf.subarray(o + 4, o + 8))) >>> 0) !== crc) throw new DataError(`readPngText: bad CRC in chunk ${type} at byte ${o}`);
    if (type === 'tEXt') {
      const z = data.indexOf(0);
      out[data.toString('latin1', 0, z)] = data.toString('latin1', z + 1);
    }
    if (type === 'IEND') break;
    o += 12 + len;
  }
  return out;
}
