import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  readSafetensors, readSafetensorsHeader, writeSafetensors, serializeSafetensors, parseSafetensors,
  f32ToF16, f16ToF32, encodeF32ToBF16, bf16ToF32, f32ToF16Bits, f16BitsToF32, f32ToBF16Bits, bf16BitsToF32,
  type TensorToWrite,
} from '../../src/io/safetensors.js';
import { CheckpointError, AigcError } from '../../src/errors.js';

let dir: string;
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aigc-st-')); });
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

const le = (n: number) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b; };

describe('half-precision conversions', () => {
  it('f16 round trip of every finite f16 value is exact', () => {
    for (let h = 0; h < 65536; h++) {
      const exp = (h >> 10) & 0x1f;
      const f = f16BitsToF32(h);
      if (exp === 0x1f && (h & 0x3ff)) { expect(Number.isNaN(f)).toBe(true); continue; }
      expect(f32ToF16Bits(f)).toBe(h);
    }
  });
  it('f16 rounds to nearest even and handles overflow/underflow', () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // halfway to the next binade: ties to even = Inf
    expect(f32ToF16Bits(1e6)).toBe(0x7c00);
    expect(f32ToF16Bits(-Infinity)).toBe(0xfc00);
    expect(f32ToF16Bits(NaN) & 0x7c00).toBe(0x7c00);
    expect(f32ToF16Bits(NaN) & 0x3ff).not.toBe(0);
    // 1 + 2^-11 is exactly between 1 and 1+2^-10: ties to even (1).
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00);
    // 1 + 3*2^-11 is between 1+2^-10 (odd) and 1+2^-9: ties to even (up).
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    // Subnormals: 2^-24 is the smallest; 2^-25 ties to 0, a bit more rounds up.
    expect(f32ToF16Bits(2 ** -24)).toBe(1);
    expect(f32ToF16Bits(2 ** -25)).toBe(0);
    expect(f32ToF16Bits(2 ** -25 * 1.5)).toBe(1);
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(2); // 1.5 ulp ties to even 2
    expect(f32ToF16Bits(-(2 ** -30))).toBe(0x8000);
    expect(f16BitsToF32(1)).toBe(2 ** -24);
  });
  it('bf16 rounds to nearest even', () => {
    expect(f32ToBF16Bits(1)).toBe(0x3f80);
    expect(f32ToBF16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(f32ToBF16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie → even (up)
    expect(f32ToBF16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81);
    expect(f32ToBF16Bits(3.4028234663852886e38)).toBe(0x7f80); // rounds to Inf
    expect(Number.isNaN(bf16BitsToF32(f32ToBF16Bits(NaN)))).toBe(true);
    expect(bf16BitsToF32(0xc040)).toBe(-3);
    const src = new Float32Array([1, -2.5, 3.140625, 1 + 2 ** -8, NaN, -0]);
    const back = bf16ToF32(encodeF32ToBF16(src));
    expect(Array.from(back.subarray(0, 4))).toEqual([1, -2.5, 3.140625, 1]);
    expect(Number.isNaN(back[4])).toBe(true);
    expect(Object.is(back[5], -0)).toBe(true);
    expect(Array.from(encodeF32ToBF16([1, 2]))).toEqual([0x3f80, 0x4000]);
    expect(Array.from(f16ToF32(f32ToF16([0.5, -0.25])))).toEqual([0.5, -0.25]);
  });
});

describe('writing and reading', () => {
  it('round-trips every dtype', () => {
    const f32 = new Float32Array([1.5, -2, 3.25, 0, 1e-3, 7]);
    const tensors: Record<string, TensorToWrite> = {
      f64: { dtype: 'F64', shape: [3], data: new Float64Array([1.1, -2.2, 1e300]) },
      f32: { dtype: 'F32', shape: [2, 3], data: f32 },
      f16: { dtype: 'F16', shape: [2, 3], data: f32 },
      bf16: { dtype: 'BF16', shape: [6], data: encodeF32ToBF16(f32) },
      i64: { dtype: 'I64', shape: [3], data: new BigInt64Array([1n, -5n, 2n ** 60n]) },
      i32: { dtype: 'I32', shape: [2], data: new Int32Array([-7, 2 ** 31 - 1]) },
      i16: { dtype: 'I16', shape: [1], data: new Int16Array([-300]) },
      i8: { dtype: 'I8', shape: [3], data: new Int8Array([-128, 0, 127]) },
      u8: { dtype: 'U8', shape: [1, 1, 3], data: new Uint8Array([0, 128, 255]) },
      bool: { dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) },
      empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
      scalar: { dtype: 'F32', shape: [], data: new Float32Array([42]) },
    };
    const file = path.join(dir, 'all.safetensors');
    writeSafetensors(file, tensors, { format: 'pt', note: 'héllo "q"' });
    const st = readSafetensors(file);
    expect(st.metadata).toEqual({ format: 'pt', note: 'héllo "q"' });
    expect(st.names()).toEqual(Object.keys(tensors).sort());
    expect(st.info('f32')).toMatchObject({ dtype: 'F32', shape: [2, 3], byteLength: 24 });
    expect(Array.from(st.getFloat32('f32'))).toEqual(Array.from(f32));
    expect(Array.from(st.getFloat32('f16'))).toEqual(Array.from(f16ToF32(f32ToF16(f32))));
    expect(Array.from(st.getFloat32('bf16'))).toEqual(Array.from(bf16ToF32(encodeF32ToBF16(f32))));
    expect(Array.from(st.getTyped('f64') as Float64Array)).toEqual([1.1, -2.2, 1e300]);
    expect(Array.from(st.getFloat32('f64'))).toEqual([Math.fround(1.1), Math.fround(-2.2), Infinity]);
    expect(Array.from(st.getBigInt64('i64'))).toEqual([1n, -5n, 2n ** 60n]);
    expect(() => st.getInt64AsNumbers('i64')).toThrow(/too large/);
    expect(st.getInt64AsNumbers('i32')).toEqual([-7, 2 ** 31 - 1]);
    expect(Array.from(st.getTyped('i16') as Int16Array)).toEqual([-300]);
    expect(st.getInt64AsNumbers('i8')).toEqual([-128, 0, 127]);
    expect(st.getRaw('u8')).toEqual({ dtype: 'U8', shape: [1, 1, 3], bytes: new Uint8Array([0, 128, 255]) });
    expect(st.getInt64AsNumbers('bool')).toEqual([1, 0]);
    expect(st.getFloat32('empty').length).toBe(0);
    expect(st.info('scalar').shape).toEqual([]);
    expect(Array.from(st.getFloat32('scalar'))).toEqual([42]);
    expect(() => st.getBigInt64('f32')).toThrow(CheckpointError);
    expect(() => st.getInt64AsNumbers('f32')).toThrow(/not an integer dtype/);
    expect(() => st.info('nope')).toThrow(/no tensor named 'nope'/);

    // Lazy mode gives the same values.
    const lazy = readSafetensors(file, { mode: 'lazy' });
    for (const n of st.names()) expect(lazy.getRaw(n)).toEqual(st.getRaw(n));
    expect(Array.from(lazy.getBigInt64('i64'))).toEqual([1n, -5n, 2n ** 60n]);

    // Layout: wider dtypes first, then by name, contiguous; header padded to 8.
    const h = readSafetensorsHeader(file);
    expect(h.headerLength % 8).toBe(0);
    const order = Object.entries(h.tensors).sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0] || a[0].localeCompare(b[0])).map(([n]) => n);
    expect(order.slice(0, 3)).toEqual(['i64', 'f64', 'empty']);
    for (const [, info] of Object.entries(h.tensors)) {
      const size = info.byteLength / Math.max(1, info.shape.reduce((a, b) => a * b, 1));
      if (info.byteLength) expect((h.dataStart + info.dataOffsets[0]) % size).toBe(0);
    }
  });

  it('returns F32 as a zero-copy view when aligned, a copy otherwise', () => {
    const file = path.join(dir, 'view.safetensors');
    writeSafetensors(file, { w: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
    const st = readSafetensors(file);
    const a = st.getFloat32('w');
    const b = st.getFloat32('w');
    expect(a.buffer).toBe(b.buffer); // shared view
    const c = st.getFloat32('w', { copy: true });
    expect(c.buffer).not.toBe(a.buffer);
    // Misaligned: a U8 tensor of length 1 before F32 is impossible with our writer, so parse a
    // hand-made buffer at an odd offset.
    const bytes = serializeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Float32Array([3, 4]) } });
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const p = parseSafetensors(shifted.subarray(1), 'mem');
    expect(Array.from(p.getFloat32('w'))).toEqual([3, 4]);
  });

  it('writes exactly the bytes of the reference implementation', () => {
    // One F32 tensor "attn.0" of shape [1,2,3] holding 0..5: the header is exactly 64 bytes, no padding.
    const out = serializeSafetensors({ 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) } });
    expect(Array.from(out)).toEqual([
      64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34,
      58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100,
      97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ]);
    // Mixed dtypes with metadata: header spelled out.
    const header =
      '{"__metadata__":{"format":"pt"},' +
      '"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},' +
      '"b":{"dtype":"F16","shape":[1],"data_offsets":[16,18]},' +
      '"a":{"dtype":"U8","shape":[2],"data_offsets":[18,20]}}';
    expect(header.length).toBe(197);
    const expected = Buffer.concat([
      Buffer.from([200, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from(header + '   ', 'utf8'), // 197 + 3 = 200
      Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), // 1, -1 (I64 LE)
      Buffer.from([0x00, 0x3c]), // F16 1.0 = 0x3c00 LE
      Buffer.from([7, 9]),
    ]);
    const file = path.join(dir, 'exact.safetensors');
    writeSafetensors(file, {
      a: { dtype: 'U8', shape: [2], data: new Uint8Array([7, 9]) },
      b: { dtype: 'F16', shape: [1], data: new Float32Array([1]) },
      ids: { dtype: 'I64', shape: [2], data: new BigInt64Array([1n, -1n]) },
    }, { format: 'pt' });
    expect(fs.readFileSync(file).equals(expected)).toBe(true);
    // And reading the hand-made bytes works.
    const st = parseSafetensors(new Uint8Array(expected), 'hand');
    expect(st.getInt64AsNumbers('ids')).toEqual([1, -1]);
    expect(Array.from(st.getFloat32('b'))).toEqual([1]);
  });

  it('writes an empty file as the reference does', () => {
    expect(Buffer.from(serializeSafetensors({})).toString('latin1')).toBe('\x08\0\0\0\0\0\0\0{}      ');
    const file = path.join(dir, 'empty.safetensors');
    writeSafetensors(file, {});
    expect(readSafetensors(file).names()).toEqual([]);
  });

  it('rejects bad data on write and leaves no temp file', () => {
    const file = path.join(dir, 'bad-write.safetensors');
    expect(() => writeSafetensors(file, { x: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(/needs 12/);
    expect(() => writeSafetensors(file, { x: { dtype: 'F32', shape: [-1], data: new Float32Array(0) } })).toThrow(/non-negative/);
    expect(() => writeSafetensors(file, { x: { dtype: 'Q4' as never, shape: [1], data: new Float32Array(1) } })).toThrow(/unknown dtype/);
    expect(() => writeSafetensors(file, { __metadata__: { dtype: 'F32', shape: [0], data: new Float32Array(0) } })).toThrow();
    expect(() => writeSafetensors(file, {}, { a: 1 as never })).toThrow(/not a string/);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    expect(fs.existsSync(file)).toBe(false);
  });
});

describe('validation', () => {
  /** Writes a file from a header (object or raw string) and a data buffer length. */
  function make(name: string, header: unknown, bufLen: number, opts: { n?: bigint; raw?: Buffer } = {}): string {
    const file = path.join(dir, name + '.safetensors');
    if (opts.raw) { fs.writeFileSync(file, opts.raw); return file; }
    const text = typeof header === 'string' ? header : JSON.stringify(header);
    const hb = Buffer.from(text, 'utf8');
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(opts.n ?? BigInt(hb.length));
    fs.writeFileSync(file, Buffer.concat([prefix, hb, Buffer.alloc(bufLen)]));
    return file;
  }
  const t = (dtype: unknown, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });

  const cases: [string, () => string, RegExp][] = [
    ['short file', () => make('short', '', 0, { raw: Buffer.from([1, 2, 3]) }), /3 bytes, shorter than the 8-byte/],
    ['empty file', () => make('zero', '', 0, { raw: Buffer.alloc(0) }), /0 bytes, shorter/],
    ['huge header', () => make('huge', '{}', 0, { n: 100_000_001n }), /exceeds the 100000000-byte limit/],
    ['u64 max header', () => make('u64', '{}', 0, { n: 2n ** 64n - 1n }), /exceeds/],
    ['header past end', () => make('past', '{}', 0, { n: 50n }), /header length 50 goes beyond the end of the file \(10 bytes\)/],
    ['invalid json', () => make('json', '{"a":', 0), /not valid JSON/],
    ['invalid utf8', () => make('utf8', '', 0, { raw: Buffer.concat([le(2), Buffer.from([0xff, 0xfe])]) }), /not valid UTF-8/],
    ['array header', () => make('arr', [1, 2], 0), /not a JSON object/],
    ['null header', () => make('null', 'null', 0), /not a JSON object/],
    ['entry not object', () => make('entry', { a: 5 }, 0), /tensor 'a': entry is not an object/],
    ['missing dtype', () => make('nodtype', { a: { shape: [1], data_offsets: [0, 4] } }, 4), /tensor 'a': missing dtype/],
    ['missing shape', () => make('noshape', { a: { dtype: 'F32', data_offsets: [0, 4] } }, 4), /missing shape/],
    ['missing offsets', () => make('nooff', { a: { dtype: 'F32', shape: [1] } }, 4), /missing data_offsets/],
    ['dtype not string', () => make('dts', { a: t(4, [1], [0, 4]) }, 4), /dtype is not a string/],
    ['unknown dtype', () => make('dtu', { a: t('F8_E4M3X', [1], [0, 1]) }, 1), /unknown or unsupported dtype 'F8_E4M3X'/],
    ['shape not array', () => make('sna', { a: t('F32', 1, [0, 4]) }, 4), /shape is not an array/],
    ['negative dim', () => make('neg', { a: t('F32', [-1], [0, 4]) }, 4), /not a non-negative integer/],
    ['fractional dim', () => make('frac', { a: t('F32', [1.5], [0, 4]) }, 4), /not a non-negative integer/],
    ['string dim', () => make('sdim', { a: t('F32', ['1'], [0, 4]) }, 4), /not a non-negative integer/],
    ['offsets not pair', () => make('op', { a: t('F32', [1], [0, 4, 8]) }, 4), /not a \[begin, end\] pair/],
    ['offsets not ints', () => make('oi', { a: t('F32', [1], [0, 4.5]) }, 4), /are not non-negative integers/],
    ['negative offset', () => make('on', { a: t('F32', [1], [-4, 0]) }, 4), /are not non-negative integers/],
    ['begin > end', () => make('be', { a: t('F32', [0], [4, 0]) }, 4), /begin 4 is after end 0/],
    ['end beyond buffer', () => make('eb', { a: t('F32', [2], [0, 8]) }, 4), /end 8 is beyond the end of the data buffer \(4 bytes\)/],
    ['size mismatch', () => make('sm', { a: t('F32', [2], [0, 4]) }, 4), /4 bytes of data but dtype F32 × shape \[2\] needs 8/],
    ['overlap', () => make('ov', { a: t('F32', [2], [0, 8]), b: t('F32', [1], [4, 8]) }, 8), /tensors 'a' and 'b' overlap/],
    ['hole', () => make('hole', { a: t('F32', [1], [0, 4]), b: t('F32', [1], [8, 12]) }, 12), /bytes 4\.\.8 .* belong to no tensor/],
    ['hole at start', () => make('hole0', { a: t('F32', [1], [4, 8]) }, 8), /bytes 0\.\.4/],
    ['trailing bytes', () => make('trail', { a: t('F32', [1], [0, 4]) }, 6), /2 trailing bytes/],
    ['metadata not object', () => make('mno', { __metadata__: 'x' }, 0), /__metadata__ is not an object/],
    ['metadata value not string', () => make('mvs', { __metadata__: { a: 1 } }, 0), /__metadata__ value for 'a' is not a string/],
  ];
  for (const [label, build, re] of cases) {
    it(`rejects: ${label}`, () => {
      const file = build();
      for (const read of [() => readSafetensors(file), () => readSafetensors(file, { mode: 'lazy' })]) {
        let err: unknown;
        try { read(); } catch (e) { err = e; }
        expect(err).toBeInstanceOf(CheckpointError);
        expect(err).toBeInstanceOf(AigcError);
        expect((err as CheckpointError).code).toBe('bad_input');
        expect((err as Error).message).toContain(file);
        expect((err as Error).message).toMatch(re);
      }
    });
  }

  it('accepts header padding, null metadata and zero-size tensors', () => {
    const file = make('ok', '{"__metadata__":null,"z":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}   ', 2);
    const st = readSafetensors(file);
    expect(st.names()).toEqual(['a', 'z']);
    expect(st.metadata).toEqual({});
  });

  it('reports a missing file as CheckpointError', () => {
    expect(() => readSafetensors(path.join(dir, 'missing.safetensors'))).toThrow(/missing\.safetensors: cannot open/);
  });
});
