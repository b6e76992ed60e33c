/**
 * A bounded load test: 32 concurrent streaming chats against the real tiny GPT-2, with the
 * server's default queue (4 running, 16 waiting per model). Every request must end in a
 * complete stream or a 429; /health must answer throughout. Prints p50/p99 time to first token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, json, spawnServe, tempDir } from './helpers.js';
import { realModels, TEXT_MODEL_ID } from './real-models.js';

const CLIENTS = 32;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

describe('load: 32 concurrent streaming chats', () => {
  // The server runs as `aigc serve` in its own process, so the 32 clients here do not share its event loop.
  let server: Awaited<ReturnType<typeof spawnServe>>;
  let dir: string;
  beforeAll(async () => {
    const m = await realModels();
    dir = tempDir();
    server = await spawnServe(['--model', m.text, '--image-model', m.image, '--data-dir', dir]);
  }, 240_000);
  afterAll(async () => { await server?.stop(); if (dir) cleanup(dir); });

  it('completes with no errors but 429s, /health answering throughout', async () => {
    let polling = true;
    const health: { status: number; ms: number }[] = [];
    const poller = (async () => {
      while (polling) {
        const t0 = performance.now();
        const r = await fetch(server.url + '/health');
        await r.arrayBuffer();
        health.push({ status: r.status, ms: performance.now() - t0 });
        await new Promise((res) => setTimeout(res, 25));
      }
    })();

    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: CLIENTS }, async (_, i) => {
      const start = performance.now();
      const res = await fetch(server.url + '/v1/chat/completions', json({
        model: TEXT_MODEL_ID, stream: true, max_tokens: 16, seed: i,
        messages: [{ role: 'user', content: `Client ${i} says hello. What happens next?` }],
      }));
      if (res.status !== 200) return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
      const reader = res.body!.getReader();
      const dec = new TextDecoder();
      let buf = '', ttft: number | null = null, done = false, text = '', error: string | null = null;
      for (;;) {
        const { value, done: end } = await reader.read();
        if (end) break;
        buf += dec.decode(value, { stream: true });
        let k;
        while ((k = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, k);
          buf = buf.slice(k + 2);
          const data = frame.replace(/^data: /, '');
          if (data === '[DONE]') { done = true; continue; }
          const ev = JSON.parse(data);
          if (ev.error) { error = ev.error.message; continue; }
          const piece = ev.choices[0]?.delta?.content;
          if (piece) { text += piece; ttft ??= performance.now() - start; }
        }
      }
      return { status: 200, ttft, done, text, error, total: performance.now() - start };
    }));
    const wall = performance.now() - t0;
    polling = false;
    await poller;

    const ok = results.filter((r) => r.status === 200) as { ttft: number | null; done: boolean; error: string | null; total: number }[];
    const busy = results.filter((r) => r.status === 429) as { retryAfter: string | null }[];
    const other = results.filter((r) => r.status !== 200 && r.status !== 429);
    expect(other).toEqual([]);
    expect(ok.length + busy.length).toBe(CLIENTS);
    expect(ok.length).toBeGreaterThanOrEqual(20); // 4 running + 16 queued at least
    for (const r of ok) {
      expect(r.error).toBeNull();
      expect(r.done).toBe(true);
    }
    for (const b of busy) expect(Number(b.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(health.length).toBeGreaterThan(0);
    expect(health.every((h) => h.status === 200)).toBe(true);

    const ttfts = ok.map((r) => r.ttft).filter((x): x is number => x !== null);
    const line = `load: ${CLIENTS} streaming chats (max_tokens 16, gpt2-tiny, concurrency 4, queue 16): ${ok.length} ok, ${busy.length} x 429; ` +
      `TTFT p50 ${pct(ttfts, 50).toFixed(0)} ms, p99 ${pct(ttfts, 99).toFixed(0)} ms; total p50 ${pct(ok.map((r) => r.total), 50).toFixed(0)} ms; wall ${wall.toFixed(0)} ms; ` +
      `/health ${health.length} polls, max ${Math.max(...health.map((h) => h.ms)).toFixed(0)} ms`;
    console.log(line);
  });
});
