/**
 * Row panels: the weight layout of the inference linear kernels (Backend.linearF32,
 * linearBf16 and linearInt8).
 *
 * W [N, K] (nn.Linear's [out, in]) is cut into panels of PANEL_ROWS = 8 rows, and each row's K
 * into chunks of 64 bytes (CH = 64 int8, 32 bf16 or 16 fp32 elements). Within a panel the 8 rows' first
 * chunks come one after another, then their second chunks, and so on:
 *
 *   offset(j, p) = (j >> 3)·8·Kp + ⌊p / CH⌋·8·CH + (j & 7)·CH + p mod CH,   Kp = K rounded up to CH
 *
 * Rows past N and columns past K are zero. Why: a GEMV that computes 8 rows at a time then
 * reads memory strictly in order, one stream that the hardware prefetcher follows at full
 * bandwidth. In the row-major layout the same loop reads 8 short streams (768 bytes each for
 * GPT-2's int8 weights) and got 15-16 GB/s here, against 27-31 GB/s for panels.
 */

export const PANEL_ROWS = 8;
export const PANEL_BYTES = 64;

type PanelArray = Int8Array | Uint16Array | Float32Array;

/** Elements per chunk for an element of `bytes` bytes (64 for int8, 32 for bf16). */
export function panelChunk(bytes: number): number {
  return PANEL_BYTES / bytes;
}

/** Elements a panel-layout copy of an [n, k] matrix takes. */
export function panelLength(n: number, k: number, bytesPerElement: number): number {
  const ch = panelChunk(bytesPerElement);
  return Math.ceil(n / PANEL_ROWS) * PANEL_ROWS * Math.ceil(k / ch) * ch;
}

/** Offset of element (j, p) of an [n, k] matrix in panel layout (chunk `ch` elements). */
export function panelOffset(j: number, p: number, k: number, ch: number): number {
  const kp = Math.ceil(k / ch) * ch;
  return (j >> 3) * PANEL_ROWS * kp + Math.floor(p / ch) * PANEL_ROWS * ch + (j & 7) * ch + (p % ch);
}

/**
 * A panel-layout copy of the row-major [n, k] matrix `w`, into `out` when given (zero-filled,
 * panelLength(n, k, bytes) long; e.g. a buffer the backend advised for streaming).
 */
export function toPanels<T extends PanelArray>(w: T, n: number, k: number, out?: T): T {
  const bytes = w.BYTES_PER_ELEMENT, ch = panelChunk(bytes), len = panelLength(n, k, bytes);
  if (w.length !== n * k) throw new RangeError(`toPanels: ${w.length} elements do not make a ${n}×${k} matrix`);
  if (out && (out.length !== len || out.BYTES_PER_ELEMENT !== bytes)) throw new RangeError(`toPanels: out must hold ${len} elements of ${bytes} bytes`);
  out ??= new (w.constructor as new (len: number) => T)(len);
  for (let j = 0; j < n; j++) {
    for (let p0 = 0; p0 < k; p0 += ch) {
      const len = Math.min(ch, k - p0);
      out.set(w.subarray(j * k + p0, j * k + p0 + len), panelOffset(j, p0, k, ch));
    }
  }
  return out;
}

/** out[p] = row j of the panel-layout [n, k] matrix `w`, for p < k. */
export function panelRow(w: PanelArray, j: number, k: number, out: { [i: number]: number }): void {
  const ch = panelChunk(w.BYTES_PER_ELEMENT);
  for (let p0 = 0; p0 < k; p0 += ch) {
    const o = panelOffset(j, p0, k, ch), len = Math.min(ch, k - p0);
    for (let t = 0; t < len; t++) out[p0 + t] = w[o + t]!;
  }
}
