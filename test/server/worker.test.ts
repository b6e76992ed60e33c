/** The worker-thread provider on the real models: one load shared by concurrent requests, cancellation mid-generation. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError } from '../../src/server/models.js';
import { WorkerModelProvider } from '../../src/server/worker-provider.js';
import { DEFAULT_MODEL_DIR } from '../../src/text/pipeline.js';
import { realModels, TEXT_MODEL_ID } from './real-models.js';

describe('WorkerModelProvider', () => {
  let p: WorkerModelProvider;
  beforeAll(async () => {
    const m = await realModels();
    // The bundled text model too: it generates slowly enough (~1 ms a token, 100+ tokens) that a
    // cancel always arrives mid-generation, which the tiny fixture (51 tokens in ~5 ms) does not
    // guarantee when the test process is descheduled between the request and the cancel.
    p = await WorkerModelProvider.start({ textModels: [m.text, DEFAULT_MODEL_DIR], imageModels: [m.image] });
  }, 240_000);
  afterAll(async () => { await p?.close(); });

  const imageId = () => p.models().find((m) => m.kind === 'image')!.id;
  const params = { maxTokens: 60, temperature: 1, topP: 1, seed: 1, stop: [] };
  const input = { prompt: 'Once upon a time' };

  it('serves concurrent requests from one loaded model, each reproducible', async () => {
    const solo = await p.generateText(TEXT_MODEL_ID, input, params, null, new AbortController().signal);
    const many = await Promise.all([1, 2, 3, 1].map((seed) => p.generateText(TEXT_MODEL_ID, input, { ...params, seed }, () => {}, new AbortController().signal)));
    expect(many[0].text).toBe(solo.text);
    expect(many[3].text).toBe(solo.text);
    expect(many[0].completionTokens).toBe(solo.completionTokens);
  });

  it('an abort stops a running generation in the worker', async () => {
    // The cancel message follows the request into the worker, which sees it at the generation
    // loop's first yield (after the first token), however fast the model is.
    const ac = new AbortController();
    let pieces = 0;
    const run = p.generateText('text-default', input, { ...params, maxTokens: 120, seed: 9 }, () => { pieces++; }, ac.signal);
    ac.abort();
    await expect(run).rejects.toBeInstanceOf(AbortedError);
    expect(pieces).toBeLessThan(30);
    // The worker is still healthy afterwards.
    const after = await p.generateText(TEXT_MODEL_ID, input, { ...params, maxTokens: 4 }, null, new AbortController().signal);
    expect(after.completionTokens).toBeGreaterThan(0);
  });

  it('images: seeds are reproducible, interpolation has the asked steps', async () => {
    const a = await p.generateImages(imageId(), { count: 2, seed: 4, label: null }, new AbortController().signal);
    const b = await p.generateImages(imageId(), { count: 1, seed: 4, label: null }, new AbortController().signal);
    expect(a[0].png.equals(b[0].png)).toBe(true);
    expect(a[1].seed).toBe(5);
    const walk = await p.interpolate(imageId(), { seedA: 1, seedB: 2, steps: 5, label: null }, new AbortController().signal);
    expect(walk).toHaveLength(5);
  });
});
