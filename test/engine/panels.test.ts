import { describe, expect, it } from 'vitest';
import { panelLength, panelOffset, panelRow, toPanels } from '../../src/engine/panels.js';

describe('row panels', () => {
  for (const [n, k] of [[1, 1], [8, 64], [9, 65], [21, 100], [3, 200]]) {
    it(`int8, bf16 and fp32 ${n}x${k}: every row reads back, the padding is zero`, () => {
      const i8 = Int8Array.from({ length: n * k }, (_, i) => ((i * 37) % 255) - 127);
      const b16 = Uint16Array.from({ length: n * k }, (_, i) => (i * 7919) & 0xffff);
      const f32 = Float32Array.from({ length: n * k }, (_, i) => i * 0.5 - 3);
      for (const w of [i8, b16, f32]) {
        const p = toPanels(w, n, k);
        expect(p.length).toBe(panelLength(n, k, w.BYTES_PER_ELEMENT));
        const row = new Float64Array(k);
        let sumAbs = 0;
        for (let j = 0; j < n; j++) {
          panelRow(p, j, k, row);
          expect(Array.from(row)).toEqual(Array.from(w.subarray(j * k, (j + 1) * k)));
        }
        for (const v of p) sumAbs += Math.abs(v);
        let want = 0;
        for (const v of w) want += Math.abs(v);
        expect(sumAbs).toBe(want); // everything else is zero padding
      }
    });
  }

  it('lays out the 8 rows of a panel chunk by chunk', () => {
    // int8, K = 128: two 64-byte chunks per row.
    expect(panelOffset(0, 0, 128, 64)).toBe(0);
    expect(panelOffset(1, 0, 128, 64)).toBe(64); // row 1's first chunk follows row 0's
    expect(panelOffset(0, 64, 128, 64)).toBe(8 * 64); // row 0's second chunk follows all first chunks
    expect(panelOffset(8, 0, 128, 64)).toBe(8 * 128); // the next panel
    expect(panelOffset(9, 65, 128, 64)).toBe(8 * 128 + 8 * 64 + 64 + 1);
  });

  it('rejects a length that is not n × k', () => {
    expect(() => toPanels(new Int8Array(10), 3, 4)).toThrow(/10 elements do not make a 3×4 matrix/);
  });
});
