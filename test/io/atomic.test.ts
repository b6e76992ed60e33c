import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic, writeFileAtomicAsync, writeJsonAtomic, writeJsonAtomicAsync, tempPathFor } from '../../src/io/atomic.js';

let dir: string;
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aigc-atomic-')); });
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

const leftovers = () => fs.readdirSync(dir).filter((f) => f.includes('.tmp-'));

describe('atomic writes', () => {
  it('writes strings, bytes and chunk lists, replacing the target', async () => {
    const f = path.join(dir, 'a.txt');
    writeFileAtomic(f, 'héllo');
    expect(fs.readFileSync(f, 'utf8')).toBe('héllo');
    writeFileAtomic(f, new Uint8Array([1, 2, 3]));
    expect([...fs.readFileSync(f)]).toEqual([1, 2, 3]);
    writeFileAtomic(f, [new Uint8Array([9]), new Uint8Array(0), new Uint8Array([8, 7])]);
    expect([...fs.readFileSync(f)]).toEqual([9, 8, 7]);
    await writeFileAtomicAsync(f, [Buffer.from('x'), Buffer.from('yz')]);
    expect(fs.readFileSync(f, 'utf8')).toBe('xyz');
    const big = new Uint8Array(3 << 20).map((_, i) => i & 0xff);
    await writeFileAtomicAsync(f, big);
    expect(fs.readFileSync(f).equals(big)).toBe(true);
    expect(leftovers()).toEqual([]);
  });

  it('writes JSON', async () => {
    const f = path.join(dir, 'c.json');
    writeJsonAtomic(f, { a: [1, 2] });
    expect(JSON.parse(fs.readFileSync(f, 'utf8'))).toEqual({ a: [1, 2] });
    await writeJsonAtomicAsync(f, { b: 'c' });
    expect(fs.readFileSync(f, 'utf8')).toBe('{\n  "b": "c"\n}\n');
  });

  it('names the temp file after the target in the same directory', () => {
    const t = tempPathFor(path.join(dir, 'model.safetensors'));
    expect(path.dirname(t)).toBe(dir);
    expect(path.basename(t)).toMatch(new RegExp(`^\\.model\\.safetensors\\.tmp-${process.pid}-[0-9a-f]+$`));
  });

  it('removes the temp file and keeps the old target on failure', async () => {
    // Renaming a file over a non-empty directory fails after the temp file was written.
    const target = path.join(dir, 'occupied');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'keep'), 'k');
    expect(() => writeFileAtomic(target, 'data')).toThrow();
    await expect(writeFileAtomicAsync(target, 'data')).rejects.toThrow();
    expect(fs.readFileSync(path.join(target, 'keep'), 'utf8')).toBe('k');
    expect(leftovers()).toEqual([]);
    expect(() => writeFileAtomic(path.join(dir, 'no', 'such', 'dir'), 'x')).toThrow(/ENOENT/);
  });
});
