/**
 * IDX files (the MNIST / Fashion-MNIST format): big-endian magic 0x0000 0x08 nDims (unsigned
 * bytes), one uint32 size per dimension, then the data. Gzipped files (.gz or gzip magic) are
 * inflated first.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { DataError } from '../../errors.js';

export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

export function parseIdx(bytes: Uint8Array, label = '<buffer>'): IdxArray {
  let b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) {
    try {
      b = gunzipSync(b);
    } catch (e) {
      throw new DataError(`${label}: gzip data is corrupt (${(e as Error).message})`);
    }
  }
  if (b.length < 4 || b[0] !== 0 || b[1] !== 0) throw new DataError(`${label}: not an IDX file (bad magic)`);
  if (b[2] !== 0x08) throw new DataError(`${label}: IDX type 0x${b[2].toString(16)} is not supported (only unsigned bytes, 0x08)`);
  const nd = b[3];
  if (nd < 1 || nd > 4 || b.length < 4 + 4 * nd) throw new DataError(`${label}: IDX header claims ${nd} dimensions`);
  const shape: number[] = [];
  for (let i = 0; i < nd; i++) shape.push(b.readUInt32BE(4 + 4 * i));
  const n = shape.reduce((x, y) => x * y, 1), start = 4 + 4 * nd;
  if (b.length - start !== n) throw new DataError(`${label}: IDX shape [${shape.join(', ')}] needs ${n} bytes of data, the file has ${b.length - start}`);
  return { shape, data: new Uint8Array(b.buffer, b.byteOffset + start, n) };
}

export function readIdx(file: string): IdxArray {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new DataError(`${file}: cannot read (${(e as Error).message})`);
  }
  return parseIdx(bytes, file);
}
