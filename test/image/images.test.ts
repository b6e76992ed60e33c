import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { addPngText, decodeImage, encodePng, gridChw, pngChunk, readPngText } from '../../src/io/images.js';

describe('images (sharp)', () => {
  it('encodes CHW planes as a PNG that decodes to the same pixels, gray and RGB', async () => {
    for (const c of [1, 3]) {
      const h = 5, w = 7, px = new Float32Array(c * h * w);
      for (let i = 0; i < px.length; i++) px[i] = (i * 37 % 256) / 255;
      const png = await encodePng(px, c, h, w);
      const meta = await sharp(png).metadata();
      expect([meta.width, meta.height, meta.channels]).toEqual([w, h, c]); // 8-bit gray or RGB PNG
      const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
      const dc = info.channels; // sharp decodes gray to sRGB: read the first channel
      for (let k = 0; k < c; k++) for (let i = 0; i < h * w; i++) expect(data[i * dc + k]).toBe(Math.round(px[k * h * w + i] * 255));
      expect(Array.from(await decodeImage(png, { size: 5, channels: c as 1 | 3 })).length).toBe(c * 25);
    }
  });

  it('writes tEXt chunks with valid CRCs that PNG readers accept and read back', async () => {
    // CRC-32 of the IEND chunk type is the well-known AE 42 60 82.
    expect(pngChunk('IEND', new Uint8Array(0)).subarray(8).toString('hex')).toBe('ae426082');
    const png = await encodePng(new Float32Array(3 * 4 * 4).fill(0.5), 3, 4, 4, { text: { Software: 'aigc test', 'aigc:seed': '42', 'aigc:label': 'ankle-boot' } });
    expect(readPngText(png)).toEqual({ Software: 'aigc test', 'aigc:seed': '42', 'aigc:label': 'ankle-boot' });
    const meta = await sharp(png).metadata(); // libpng still parses it
    expect([meta.width, meta.height, meta.format]).toEqual([4, 4, 'png']);
    const bad = Buffer.from(png);
    bad[40] ^= 0xff; // inside the first tEXt chunk
    expect(() => readPngText(bad)).toThrow(/bad CRC/);
    expect(() => addPngText(Buffer.from('not a png at all, definitely not'), { a: 'b' })).toThrow(/not a PNG/);
  });

  it('resizes and centre-crops JPEG / WebP / PNG files to a square', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'aigc-img-'));
    // 40x20 image: left half black, right half white; a centre crop keeps the middle 20x20.
    const raw = Buffer.alloc(40 * 20 * 3);
    for (let y = 0; y < 20; y++) for (let x = 20; x < 40; x++) raw.fill(255, (y * 40 + x) * 3, (y * 40 + x) * 3 + 3);
    for (const fmt of ['png', 'jpeg', 'webp'] as const) {
      const f = path.join(dir, `a.${fmt}`);
      writeFileSync(f, await sharp(raw, { raw: { width: 40, height: 20, channels: 3 } })[fmt]({ quality: 100 } as never).toBuffer());
      const img = await decodeImage(f, { size: 10, channels: 3 });
      expect(img.length).toBe(300);
      expect(img[0 * 10 + 0]).toBeLessThan(0.1); // left column: black
      expect(img[0 * 10 + 9]).toBeGreaterThan(0.9); // right column: white
    }
    const gray = await decodeImage(path.join(dir, 'a.png'), { size: 8, channels: 1 });
    expect(gray.length).toBe(64);
    writeFileSync(path.join(dir, 'bad.png'), 'garbage');
    await expect(decodeImage(path.join(dir, 'bad.png'), { size: 8, channels: 1 })).rejects.toThrow(/bad.png: cannot decode/);
  });

  it('lays out a grid with padding', () => {
    const a = new Float32Array(4).fill(0), g = gridChw([a, a, a], 1, 2, 2, 1, 1);
    expect([g.height, g.width]).toEqual([2 * 2 + 3, 2 * 2 + 3]);
    expect(g.data[1 * g.width + 1]).toBe(0);
    expect(g.data[0]).toBe(1);
    expect(g.data[4 * g.width + 4]).toBe(1); // 4th cell is empty
  });
});
