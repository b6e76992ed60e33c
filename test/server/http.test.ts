/** HTTP behaviour of `aigc serve` against a deterministic fake provider (no real model here). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/index.js';
import { readPngText } from '../../src/server/png.js';
import { FakeProvider } from './fake-provider.js';
import { cleanup, json, readSse, tempDir, withServer } from './helpers.js';

describe('OpenAI-shaped API (fake provider)', () => {
  let server: RunningServer;
  let provider: FakeProvider;
  let dir: string;
  beforeAll(async () => {
    dir = tempDir();
    provider = new FakeProvider();
    server = await withServer({ provider, dataDir: dir, concurrency: 2, queue: 2 });
  });
  afterAll(async () => { await server.close(); cleanup(dir); });
  const url = (p: string) => server.url + p;

  it('answers /health and lists models', async () => {
    const h = await fetch(url('/health'));
    expect(h.status).toBe(200);
    expect((await h.json()).status).toBe('ok');
    const m = await (await fetch(url('/v1/models'))).json();
    expect(m.object).toBe('list');
    expect(m.data.map((x: { id: string }) => x.id)).toEqual(['fake-text', 'fake-image']);
    expect(m.data[0]).toMatchObject({ object: 'model', owned_by: 'aigc' });
  });

  it('chat completion: OpenAI shape with usage', async () => {
    const res = await fetch(url('/v1/chat/completions'), json({ model: 'fake-text', messages: [{ role: 'user', content: 'hi there' }], max_tokens: 3, seed: 5 }));
    expect(res.status).toBe(200);
    const b = await res.json();
    expect(b.object).toBe('chat.completion');
    expect(b.id).toMatch(/^chatcmpl-/);
    expect(b.choices[0]).toMatchObject({ index: 0, message: { role: 'assistant', content: ' w5 w6 w7' }, finish_reason: 'length' });
    expect(b.usage).toEqual({ prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 });
  });

  it('streams chat as SSE data chunks ending with [DONE], usage on request', async () => {
    const res = await fetch(url('/v1/chat/completions'), json({ model: 'fake-text', messages: [{ role: 'user', content: 'x' }], max_tokens: 3, seed: 1, stream: true, stream_options: { include_usage: true } }));
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const data = await readSse(res);
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    const text = chunks.flatMap((c) => c.choices).map((c) => c.delta.content ?? '').join('');
    expect(text).toBe(' w1 w2 w3');
    expect(chunks.at(-2).choices[0].finish_reason).toBe('length');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 3 } });
  });

  it('completions: prompt, n, stop, echo', async () => {
    const b = await (await fetch(url('/v1/completions'), json({ model: 'fake-text', prompt: 'a b', max_tokens: 5, seed: 10, n: 2, stop: [' w12'] }))).json();
    expect(b.object).toBe('text_completion');
    expect(b.choices).toHaveLength(2);
    expect(b.choices[0]).toMatchObject({ index: 0, text: ' w10 w11', finish_reason: 'stop' });
    expect(b.choices[1]).toMatchObject({ index: 1, text: ' w11', finish_reason: 'stop' });
    const s = await readSse(await fetch(url('/v1/completions'), json({ model: 'fake-text', prompt: 'a', max_tokens: 2, seed: 0, stream: true })));
    expect(s.at(-1)).toBe('[DONE]');
    expect(s.slice(0, -1).map((d) => JSON.parse(d).choices[0].text).join('')).toBe(' w0 w1');
  });

  it('maps sampling parameters and defaults', async () => {
    await fetch(url('/v1/chat/completions'), json({ model: 'fake-text', messages: [{ role: 'user', content: 'x' }], max_completion_tokens: 2, temperature: 0.5, top_p: 0.9, seed: 3, stop: 'zz' }));
    expect(provider.lastParams).toEqual({ maxTokens: 2, temperature: 0.5, topP: 0.9, seed: 3, stop: ['zz'] });
    await fetch(url('/v1/completions'), json({ model: 'fake-text', prompt: 'x', max_tokens: 1, seed: -1 }));
    expect(provider.lastParams!.seed).toBe(2 ** 32 - 1);
  });

  it.each([
    [{ model: 'fake-text', messages: [{ role: 'user', content: 'x' }], frobnicate: 1 }, 400, 'frobnicate'],
    [{ model: 'fake-text', messages: [{ role: 'user', content: 'x' }], temperature: 'hot' }, 400, 'temperature'],
    [{ model: 'fake-text', messages: [{ role: 'user', content: 'x' }], temperature: 3 }, 400, 'temperature'],
    [{ model: 'fake-text', messages: [] }, 400, 'messages'],
    [{ model: 'fake-text', messages: [{ role: 'robot', content: 'x' }] }, 400, 'role'],
    [{ messages: [{ role: 'user', content: 'x' }] }, 400, 'model'],
    [{ model: 'fake-text', messages: [{ role: 'user', content: 'x' }], presence_penalty: 0.5 }, 400, 'presence_penalty'],
    [{ model: 'fake-text', messages: [{ role: 'user', content: 'x' }], frequency_penalty: 1 }, 400, 'frequency_penalty'],
    [{ model: 'fake-text', messages: [{ role: 'user', content: 'x' }], max_tokens: 1000 }, 400, 'max_tokens'],
    [{ model: 'fake-text', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function' }] }, 400, 'tools'],
    [{ model: 'nope', messages: [{ role: 'user', content: 'x' }] }, 404, 'model'],
    [{ model: 'fake-image', messages: [{ role: 'user', content: 'x' }] }, 400, 'model'],
  ])('rejects %j with %i', async (body, status, param) => {
    const res = await fetch(url('/v1/chat/completions'), json(body));
    expect(res.status).toBe(status);
    const b = await res.json();
    expect(b.error).toMatchObject({ type: expect.any(String), message: expect.any(String) });
    expect(JSON.stringify(b.error)).toContain(param);
  });

  it('malformed JSON is a 400, an oversize body a 413, a wrong content type a 415', async () => {
    const bad = await fetch(url('/v1/chat/completions'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model": "fake-text", "messages": [' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.type).toBe('invalid_request_error');
    const big = await fetch(url('/v1/completions'), json({ model: 'fake-text', prompt: 'x'.repeat(2 * 1024 * 1024) }));
    expect(big.status).toBe(413);
    expect((await big.json()).error.code).toBe('request_too_large');
    const txt = await fetch(url('/v1/completions'), { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(txt.status).toBe(415);
    const health = await fetch(url('/health'));
    expect(health.status).toBe(200);
  });

  it('unknown routes get an OpenAI error object', async () => {
    const r = await fetch(url('/v1/nothing'));
    expect(r.status).toBe(404);
    expect((await r.json()).error.code).toBe('unknown_url');
  });

  it('a full queue answers 429 with Retry-After; /health answers meanwhile', async () => {
    provider.tokenDelayMs = 100;
    try {
      const reqs = Array.from({ length: 8 }, () => fetch(url('/v1/chat/completions'), json({ model: 'fake-text', messages: [{ role: 'user', content: 'x' }], max_tokens: 5 })));
      // /health answers while the queue is full.
      let q = { running: 0, queued: 0 };
      for (let i = 0; i < 100 && q.queued < 2; i++) {
        const h = await fetch(url('/health'));
        expect(h.status).toBe(200);
        q = (await h.json()).queues['fake-text'] ?? q;
      }
      expect(q).toMatchObject({ running: 2, queued: 2 });
      const res = await Promise.all(reqs);
      const codes = res.map((r) => r.status).sort();
      expect(codes.filter((c) => c === 200)).toHaveLength(4);
      expect(codes.filter((c) => c === 429)).toHaveLength(4);
      const busy = res.find((r) => r.status === 429)!;
      expect(Number(busy.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect((await busy.json()).error.code).toBe('server_busy');
    } finally {
      provider.tokenDelayMs = 0;
    }
  });

  it('a client that disconnects cancels its generation', async () => {
    provider.tokenDelayMs = 20;
    try {
      const before = provider.aborted;
      const ac = new AbortController();
      const res = await fetch(url('/v1/chat/completions'), { ...json({ model: 'fake-text', messages: [{ role: 'user', content: 'x' }], max_tokens: 100, stream: true }), signal: ac.signal });
      const reader = res.body!.getReader();
      await reader.read();
      ac.abort();
      const t0 = Date.now();
      while (provider.aborted === before && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
      expect(provider.aborted).toBe(before + 1);
      // Non-streaming too.
      const ac2 = new AbortController();
      const p = fetch(url('/v1/completions'), { ...json({ model: 'fake-text', prompt: 'x', max_tokens: 100 }), signal: ac2.signal }).catch(() => null);
      await new Promise((r) => setTimeout(r, 100));
      ac2.abort();
      await p;
      const t1 = Date.now();
      while (provider.aborted === before + 1 && Date.now() - t1 < 10_000) await new Promise((r) => setTimeout(r, 20));
      expect(provider.aborted).toBe(before + 2);
    } finally {
      provider.tokenDelayMs = 0;
    }
  });

  it('images: b64_json PNG with metadata, signed URLs served by the server, class from the prompt', async () => {
    const b = await (await fetch(url('/v1/images/generations'), json({ prompt: 'a handwritten seven', n: 2, response_format: 'b64_json', seed: 42 }))).json();
    expect(b.data).toHaveLength(2);
    const png = Buffer.from(b.data[0].b64_json, 'base64');
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    const meta = JSON.parse(readPngText(png)['aigc:parameters']);
    expect(meta).toMatchObject({ model: 'fake-image', prompt: 'a handwritten seven', seed: 42, label: '7' });
    const u = await (await fetch(url('/v1/images/generations'), json({ prompt: 'class: 3', size: '16x16' }))).json();
    expect(u.data[0].url).toMatch(/\/v1\/images\/files\/img_[0-9a-f]{32}\.png\?exp=\d+&sig=/);
    expect(u.data[0].label).toBe('3');
    const file = await fetch(u.data[0].url);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('image/png');
    const bytes = Buffer.from(await file.arrayBuffer());
    expect(bytes.readUInt32BE(16)).toBe(16); // IHDR width: upscaled to the requested size
    const bad = await fetch(url('/v1/images/generations'), json({ prompt: 'x', size: '100x50' }));
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.param).toBe('size');
    const hist = await (await fetch(url('/api/images'))).json();
    expect(hist.data.length).toBeGreaterThanOrEqual(3);
    const interp = await (await fetch(url('/v1/images/interpolations'), json({ seed_a: 1, seed_b: 2, steps: 4, label: '5' }))).json();
    expect(interp.data).toHaveLength(4);
  });

  it('no request path reaches the file system outside the data directory', async () => {
    for (const p of ['/v1/images/files/..%2F..%2F..%2Fetc%2Fpasswd', '/v1/images/files/../../etc/passwd', '/v1/images/files/img_00000000000000000000000000000000.png',
      '/../../../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/assets/..%2f..%2f..%2fpackage.json', '/v1/training/jobs/..%2f..%2fetc/images']) {
      const r = await fetch(url(p));
      expect([400, 403, 404]).toContain(r.status);
      const t = await r.text();
      expect(t).not.toContain('root:');
      expect(t).not.toContain('"name": "aigc"');
    }
  });

  it('training jobs: create, list, get, progress over SSE with sample images, cancel', async () => {
    const created = await fetch(url('/v1/training/jobs'), json({ kind: 'image', preset: 'dcgan28', dataset: 'mnist', steps: 4 }));
    expect(created.status).toBe(201);
    const job = await created.json();
    expect(job).toMatchObject({ object: 'training.job', kind: 'image', status: 'queued' });
    const events = (await readSse(await fetch(url(`/v1/training/jobs/${job.id}/events`))));
    expect(events.at(-1)).toBe('[DONE]');
    const parsed = events.slice(0, -1).map((e) => JSON.parse(e));
    const progress = parsed.filter((e) => e.type === 'progress');
    expect(progress.map((e) => e.step)).toEqual([1, 2, 3, 4]);
    expect(progress[0].losses).toEqual({ dLoss: 1, gLoss: 2 });
    expect(progress[3].sample_url).toMatch(/^\/v1\/images\/files\//);
    expect(parsed.at(-1)).toMatchObject({ type: 'status', job: { status: 'succeeded' } });
    const imgs = await (await fetch(url(`/v1/training/jobs/${job.id}/images`))).json();
    expect(imgs.data).toHaveLength(1);
    expect((await fetch(url(imgs.data[0].url))).status).toBe(200);
    const got = await (await fetch(url(`/v1/training/jobs/${job.id}`))).json();
    expect(got.progress).toMatchObject({ step: 4, total_steps: 4 });
    // A long job, cancelled while it runs.
    provider.trainStepDelayMs = 50;
    const long = await (await fetch(url('/v1/training/jobs'), json({ kind: 'text', text: 'hello world', steps: 1000 }))).json();
    await new Promise((r) => setTimeout(r, 200));
    const c = await (await fetch(url(`/v1/training/jobs/${long.id}/cancel`), { method: 'POST' })).json();
    expect(['cancelling', 'cancelled']).toContain(c.status);
    const t0 = Date.now();
    let status = '';
    while (Date.now() - t0 < 5000) {
      status = (await (await fetch(url(`/v1/training/jobs/${long.id}`))).json()).status;
      if (status === 'cancelled') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe('cancelled');
    const list = await (await fetch(url('/v1/training/jobs'))).json();
    expect(list.data.map((j: { id: string }) => j.id)).toEqual(expect.arrayContaining([job.id, long.id]));
    const bad = await fetch(url('/v1/training/jobs'), json({ kind: 'text', steps: 2 }));
    expect(bad.status).toBe(400);
  });
});

describe('rate limit', () => {
  it('answers 429 with Retry-After past the per-minute limit', async () => {
    const dir = tempDir();
    const server = await withServer({ provider: new FakeProvider(), dataDir: dir, rateLimit: 5 });
    try {
      const codes = [];
      for (let i = 0; i < 7; i++) codes.push((await fetch(server.url + '/v1/models')).status);
      expect(codes.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
      const r = await fetch(server.url + '/v1/models');
      expect(r.status).toBe(429);
      expect(r.headers.get('retry-after')).toBeTruthy();
      expect((await r.json()).error.code).toBe('rate_limit_exceeded');
    } finally {
      await server.close();
      cleanup(dir);
    }
  });
});

describe('shutdown', () => {
  it('closes promptly with open SSE streams and a running job', async () => {
    const dir = tempDir();
    const provider = new FakeProvider();
    provider.trainStepDelayMs = 1000;
    provider.tokenDelayMs = 200;
    const server = await withServer({ provider, dataDir: dir });
    try {
      const job = await (await fetch(server.url + '/v1/training/jobs', json({ kind: 'image', steps: 1000 }))).json();
      const events = await fetch(server.url + `/v1/training/jobs/${job.id}/events`);
      const chat = fetch(server.url + '/v1/chat/completions', json({ model: 'fake-text', messages: [{ role: 'user', content: 'x' }], max_tokens: 100, stream: true })).catch(() => null);
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      await server.close();
      expect(Date.now() - t0).toBeLessThan(5000);
      await events.text().catch(() => '');
      await chat;
    } finally {
      cleanup(dir);
    }
  });
});
