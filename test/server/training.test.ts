/** Training jobs with the real trainers, in training worker threads: text and image, progress, cancel. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/index.js';
import { cleanup, json, readSse, tempDir, withServer } from './helpers.js';
import { realModels } from './real-models.js';

describe('training jobs (real trainers)', () => {
  let server: RunningServer;
  let dir: string;
  beforeAll(async () => {
    const m = await realModels();
    dir = tempDir();
    server = await withServer({ textModels: [m.text], imageModels: [m.image], dataDir: dir });
  }, 240_000);
  afterAll(async () => { await server?.close(); if (dir) cleanup(dir); });

  it('a text job trains a tiny GPT-2 on the posted corpus and reports its loss', async () => {
    const text = 'The quick brown fox jumps over the lazy dog. '.repeat(200);
    const job = await (await fetch(server.url + '/v1/training/jobs', json({ kind: 'text', text, steps: 3, batch_size: 2, block_size: 32 }))).json();
    expect(job.status).toBe('queued');
    const events = (await readSse(await fetch(server.url + `/v1/training/jobs/${job.id}/events`))).slice(0, -1).map((e) => JSON.parse(e));
    const final = events.filter((e) => e.type === 'status').at(-1);
    expect(final.job.error).toBeNull();
    expect(final.job.status).toBe('succeeded');
    expect(final.job.result_model).toBe('model');
    const progress = events.filter((e) => e.type === 'progress');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1).losses.loss).toBeGreaterThan(0);
  }, 180_000);

  it('an image job can be cancelled while it runs', async () => {
    const job = await (await fetch(server.url + '/v1/training/jobs', json({ kind: 'image', preset: 'dcgan28', steps: 100000, batch_size: 16, sample_every: 1000 }))).json();
    const t0 = Date.now();
    while ((await (await fetch(server.url + `/v1/training/jobs/${job.id}`)).json()).status !== 'running' && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1500));
    await fetch(server.url + `/v1/training/jobs/${job.id}/cancel`, { method: 'POST' });
    const events = (await readSse(await fetch(server.url + `/v1/training/jobs/${job.id}/events`))).slice(0, -1).map((e) => JSON.parse(e));
    expect(events.filter((e) => e.type === 'status').at(-1).job.status).toBe('cancelled');
    expect((await (await fetch(server.url + '/health')).json()).status).toBe('ok');
  }, 180_000);
});
