import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { readPngText } from '../../src/io/images.js';
import { DEFAULT_IMAGE_MODEL, imageGeneration } from '../../src/image/pipeline.js';
import { trainGan } from '../../src/image/train.js';
import { VERSION } from '../../src/version.js';
import { tiny, toyData } from './helpers.js';

let model = '';

beforeAll(async () => {
  model = mkdtempSync(path.join(tmpdir(), 'aigc-model-'));
  await trainGan({ ...tiny, data: toyData(), out: model, maxSteps: 3, metric: false, seed: 1 });
});

async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '', stderr = '';
  const ow = process.stdout.write.bind(process.stdout), ew = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => { stdout += s; return true; }) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => { stderr += s; return true; }) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
}

describe('imageGeneration', () => {
  it('reproduces an image bit for bit from its seed, label and truncation', async () => {
    const g1 = await imageGeneration(model), g2 = await imageGeneration(model);
    expect(g1.labels).toEqual(['bar', 'dot']);
    expect([g1.imageSize, g1.channels]).toEqual([28, 1]);
    const [a] = await g1.generate({ seed: 42, label: 'dot' });
    const [b] = await g2.generate({ seed: 42, label: 1 }); // by index, fresh load
    expect(Buffer.compare(a.png, b.png)).toBe(0);
    const many = await g1.generate({ seed: 40, count: 4, label: 'DOT' }); // case-insensitive; image i uses seed 40 + i
    expect(many.map((m) => m.seed)).toEqual([40, 41, 42, 43]);
    expect(Buffer.compare(many[2].png, a.png)).toBe(0);
    expect(Array.from(g1.pixels(42, 'dot'))).toEqual(Array.from(g2.pixels(42, 'dot')));
    const [t] = await g1.generate({ seed: 42, label: 'dot', truncation: 0.5 });
    expect(Buffer.compare(t.png, a.png)).not.toBe(0);
    const [t2] = await g2.generate({ seed: 42, label: 'dot', truncation: 0.5 });
    expect(Buffer.compare(t.png, t2.png)).toBe(0);
  });

  it('writes PNGs that decode and carry model, seed, label and version', async () => {
    const g = await imageGeneration(model);
    const [img] = await g.generate({ seed: 7, label: 'bar' });
    const meta = await sharp(img.png).metadata();
    expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['png', 28, 28, 1]);
    const text = readPngText(img.png);
    expect(text['aigc:seed']).toBe('7');
    expect(text['aigc:label']).toBe('bar');
    expect(text.Software).toBe(`aigc ${VERSION}`);
    expect(text['aigc:model']).toMatch(/dcgan28, 2 classes, step 3/);
    const grid = await g.grid(await g.generate({ seed: 1, count: 5 }), 3);
    const gm = await sharp(grid).metadata();
    expect([gm.width, gm.height]).toEqual([3 * 28 + 4 * 2, 2 * 28 + 3 * 2]);
    expect(readPngText(grid)['aigc:seeds']).toBe('1,2,3,4,5');
  });

  it('interpolates between two seeds, ends included', async () => {
    const g = await imageGeneration(model);
    const path5 = await g.interpolate({ seedA: 3, seedB: 9, steps: 5, label: 'bar' });
    expect(path5).toHaveLength(5);
    const [a] = await g.generate({ seed: 3, label: 'bar' });
    const [b] = await g.generate({ seed: 9, label: 'bar' });
    const px = async (png: Buffer) => (await sharp(png).raw().toBuffer()).toString('hex');
    expect(await px(path5[0].png)).toBe(await px(a.png));
    expect(await px(path5[4].png)).toBe(await px(b.png));
    expect(readPngText(path5[2].png)['aigc:seed']).toBe('3->9 t=0.5000');
  });

  it('rejects unknown labels and bad model folders with clear errors', async () => {
    const g = await imageGeneration(model);
    await expect(g.generate({ label: 'sneaker' })).rejects.toThrow(/unknown label "sneaker"; this model knows: bar, dot/);
    await expect(imageGeneration(tmpdir())).rejects.toThrow(/not an image model folder \(no gan.json\)/);
  });
});

describe('aigc image (CLI)', () => {
  it('generate writes files; an unknown label exits 2 with the message', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'aigc-out-'));
    const ok = await runCli(['image', 'generate', '--model', model, '--count', '3', '--seed', '5', '--label', 'dot', '--out', out]);
    expect(ok.code).toBe(0);
    const files = ok.stdout.trim().split('\n');
    expect(files.map((f) => path.basename(f))).toEqual(['seed-5-dot.png', 'seed-6-dot.png', 'seed-7-dot.png']);
    expect(readPngText(readFileSync(files[0]))['aigc:label']).toBe('dot');
    const gridFile = path.join(out, 'grid.png');
    expect((await runCli(['image', 'generate', '--model', model, '--count', '4', '--seed', '1', '--grid', '--out', gridFile])).code).toBe(0);
    expect(existsSync(gridFile)).toBe(true);
    const bad = await runCli(['image', 'generate', '--model', model, '--label', 'sneaker', '--out', path.join(out, 'x.png')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown label "sneaker"; this model knows: bar, dot/);
  });

  it('train: an empty data folder exits 2 naming the folder; a corrupt checkpoint is a clear error', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'aigc-empty-'));
    const r = await runCli(['image', 'train', '--data', empty, '--out', path.join(empty, 'out'), '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${empty}: no images found`);
    const broken = mkdtempSync(path.join(tmpdir(), 'aigc-broken-'));
    writeFileSync(path.join(broken, 'gan.json'), readFileSync(path.join(model, 'gan.json')));
    writeFileSync(path.join(broken, 'generator.safetensors'), 'xx');
    const g = await runCli(['image', 'generate', '--model', broken, '--out', path.join(broken, 'a.png')]);
    expect(g.code).toBe(2);
    expect(g.stderr).toMatch(/generator.safetensors/);
  });
});

describe.runIf(existsSync(path.join(DEFAULT_IMAGE_MODEL, 'gan.json')))('the bundled default model', () => {
  it('generates every class by name, offline, with no --model', async () => {
    const g = await imageGeneration();
    expect(g.labels!.length).toBeGreaterThanOrEqual(10);
    for (const label of g.labels!) {
      const [img] = await g.generate({ seed: 1, label });
      expect(img.label).toBe(label);
      expect(readPngText(img.png)['aigc:label']).toBe(label);
    }
  });
});
