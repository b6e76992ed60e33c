import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { readSafetensors } from '../../src/io/safetensors.js';
import { readGanMeta } from '../../src/image/checkpoint.js';
import { trainGan } from '../../src/image/train.js';
import { tiny, toyData } from './helpers.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'aigc-gan-'));

function tensors(file: string): Record<string, number[]> {
  const st = readSafetensors(file);
  return Object.fromEntries(st.names().map((n) => [n, Array.from(st.getTyped(n) as Float32Array)]));
}

describe('trainGan', () => {
  it('writes checkpoints, samples and loss curves; resuming gives bit-identical weights to an uninterrupted run', async () => {
    const data = toyData();
    const a = tmp(), b = tmp();
    const events: string[] = [];
    const ra = await trainGan({ ...tiny, data, out: a, maxSteps: 7, epochs: 100, metric: false, seed: 3 }, { onProgress: (e) => events.push(e.type) });
    expect(ra.steps).toBe(7);
    expect(ra.epochs).toBe(1); // 5 steps per epoch
    expect(events).toContain('step');
    expect(events).toContain('checkpoint');
    for (const f of ['gan.json', 'generator.safetensors', 'discriminator.safetensors', 'optimizer.safetensors', 'loss_curves.png']) expect(existsSync(path.join(a, f)), f).toBe(true);
    const meta = readGanMeta(a);
    expect(meta.config.labels).toEqual(['bar', 'dot']);
    expect(meta.step).toBe(7);
    expect((await sharp(path.join(a, 'loss_curves.png')).metadata()).format).toBe('png');
    const grid = await sharp(ra.lastSample!).metadata();
    expect([grid.width, grid.height]).toEqual([8 * 28 + 9 * 2, 2 * 28 + 3 * 2]); // one row per class

    await trainGan({ ...tiny, data, out: b, maxSteps: 3, epochs: 100, metric: false, seed: 3 });
    const rb = await trainGan({ ...tiny, data, out: b, maxSteps: 7, epochs: 100, metric: false, seed: 3, resume: true });
    expect(rb.steps).toBe(7);
    for (const f of ['generator.safetensors', 'discriminator.safetensors', 'optimizer.safetensors']) {
      expect(tensors(path.join(b, f)), f).toEqual(tensors(path.join(a, f)));
    }
  });

  it('refuses to resume from a checkpoint that does not fit the preset', async () => {
    const data = toyData(), out = tmp();
    await trainGan({ ...tiny, data, out, maxSteps: 1, metric: false });
    await expect(trainGan({ ...tiny, width: 8, data, out, maxSteps: 2, metric: false, resume: true }))
      .rejects.toThrow(/does not fit: width: checkpoint has 4, wanted 8/);
    await expect(trainGan({ ...tiny, preset: 'dcgan32', data, out, maxSteps: 2, metric: false, resume: true }))
      .rejects.toThrow(/does not fit: preset: checkpoint has dcgan28, wanted dcgan32; imageSize: checkpoint has 28, wanted 32/);
    await expect(trainGan({ ...tiny, data, out: tmp(), resume: true })).rejects.toThrow(/holds no checkpoint/);
  });

  it('stops on abort with a checkpoint, and logs the Fréchet distance of a classifier trained on the data', async () => {
    const data = toyData(), out = tmp(), ac = new AbortController();
    let metric: number | null = null;
    const r = await trainGan({ ...tiny, data, out, epochs: 100, metricSamples: 50 }, {
      signal: ac.signal,
      onProgress: (e) => { if (e.type === 'step' && e.step === 2) ac.abort(); if (e.type === 'metric') metric = e.frechet; },
    });
    expect(r.aborted).toBe(true);
    expect(r.steps).toBe(2);
    expect(readGanMeta(out).step).toBe(2);
    expect(metric).not.toBeNull();
    expect(metric!).toBeGreaterThan(0);
    expect(existsSync(path.join(out, 'classifier', 'classifier.safetensors'))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(out, 'gan.json'), 'utf8')).metrics[0].step).toBe(2);
  });
});
