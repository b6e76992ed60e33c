/**
 * Half-precision conversions: IEEE binary16 and bfloat16 to and from float32, one value at a
 * time and element-wise. The engine's backends and the safetensors reader/writer share them.
 */

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** One float → IEEE binary16 bits, round-to-nearest-even (overflow → ±Inf, NaN stays NaN). */
export function f32ToF16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal
    const m = mant | 0x800000;
    const shift = 14 - e; // 14..24
    let r = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (r & 1) !== 0)) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1) !== 0)) r++; // a carry into the exponent is right
  return sign | r;
}

/** IEEE binary16 bits → float (exact). */
export function f16BitsToF32(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) {
    const v = mant * 5.960464477539063e-8; // 2^-24, exact
    return sign ? -v : v;
  }
  u32Scratch[0] = exp === 0x1f ? (sign | 0x7f800000 | (mant << 13)) >>> 0 : (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  return f32Scratch[0]!;
}

/** One float → bfloat16 bits, round-to-nearest-even (NaN stays a quiet NaN). */
export function f32ToBF16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** bfloat16 bits → float (exact). */
export function bf16BitsToF32(b: number): number {
  u32Scratch[0] = (b & 0xffff) << 16;
  return f32Scratch[0]!;
}

let f16Table: Float32Array | undefined;
function f16ToF32Table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) f16Table[i] = f16BitsToF32(i);
  }
  return f16Table;
}

/** Float32 → binary16 bits, element-wise, round-to-nearest-even. `out` defaults to a new array. */
export function f32ToF16(src: ArrayLike<number>, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) out[i] = f32ToF16Bits(src[i]!);
  return out;
}

/** binary16 bits → Float32, element-wise (exact). `out` defaults to a new array. */
export function f16ToF32(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  const t = f16ToF32Table();
  for (let i = 0; i < src.length; i++) out[i] = t[src[i]!]!;
  return out;
}

/** Float32 → bfloat16 bits, element-wise, round-to-nearest-even. `out` defaults to a new array. */
export function encodeF32ToBF16(src: ArrayLike<number>, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  if (src instanceof Float32Array) {
    const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
    for (let i = 0; i < bits.length; i++) {
      const x = bits[i]!;
      out[i] = (x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0
        ? (x >>> 16) | 0x40
        : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
    }
    return out;
  }
  for (let i = 0; i < src.length; i++) out[i] = f32ToBF16Bits(src[i]!);
  return out;
}

/** bfloat16 bits → Float32, element-wise (exact). `out` defaults to a new array. */
export function bf16ToF32(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  const o = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) o[i] = src[i]! << 16;
  return out;
}
