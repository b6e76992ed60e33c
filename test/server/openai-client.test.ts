/** The official `openai` npm client, unchanged but for baseURL and key, against real models. */
import OpenAI from 'openai';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/index.js';
import { cleanup, tempDir, withServer } from './helpers.js';
import { realModels, TEXT_MODEL_ID } from './real-models.js';

const KEY = 'sk-aigc-test-0123456789abcdef0123456789';

describe('openai client against aigc serve (real models)', () => {
  let server: RunningServer;
  let dir: string;
  let client: OpenAI;
  let imageModel: string;
  beforeAll(async () => {
    const m = await realModels();
    dir = tempDir();
    server = await withServer({ textModels: [m.text], imageModels: [m.image], dataDir: dir, apiKeys: [KEY] });
    imageModel = server.provider.models().find((x) => x.kind === 'image')!.id;
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY, maxRetries: 0 });
  }, 240_000);
  afterAll(async () => { await server?.close(); if (dir) cleanup(dir); });

  it('lists models', async () => {
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toEqual([TEXT_MODEL_ID, imageModel]);
    const one = await client.models.retrieve(TEXT_MODEL_ID);
    expect(one.owned_by).toBe('aigc');
  });

  it('chat completion (plain), reproducible with a seed', async () => {
    const req = { model: TEXT_MODEL_ID, messages: [{ role: 'system' as const, content: 'Be brief.' }, { role: 'user' as const, content: 'Hello there' }], max_tokens: 8, seed: 7, temperature: 0.8 };
    const a = await client.chat.completions.create(req);
    expect(a.object).toBe('chat.completion');
    expect(a.model).toBe(TEXT_MODEL_ID);
    expect(typeof a.choices[0].message.content).toBe('string');
    expect(['stop', 'length']).toContain(a.choices[0].finish_reason);
    expect(a.usage!.completion_tokens).toBeGreaterThan(0);
    expect(a.usage!.completion_tokens).toBeLessThanOrEqual(8);
    expect(a.usage!.total_tokens).toBe(a.usage!.prompt_tokens + a.usage!.completion_tokens);
    const b = await client.chat.completions.create(req);
    expect(b.choices[0].message.content).toBe(a.choices[0].message.content);
  });

  it('chat completion (streamed) matches the plain one for the same seed', async () => {
    const req = { model: TEXT_MODEL_ID, messages: [{ role: 'user' as const, content: 'Tell me a story' }], max_tokens: 12, seed: 11 };
    const plain = await client.chat.completions.create(req);
    const stream = await client.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    let chunks = 0;
    for await (const c of stream) {
      chunks++;
      if (c.usage) usage = c.usage;
      for (const ch of c.choices) {
        text += ch.delta.content ?? '';
        if (ch.finish_reason) finish = ch.finish_reason;
      }
    }
    expect(chunks).toBeGreaterThan(2);
    expect(text).toBe(plain.choices[0].message.content);
    expect(finish).toBe(plain.choices[0].finish_reason);
    expect(usage!.completion_tokens).toBe(plain.usage!.completion_tokens);
  });

  it('completions, n > 1, and a streamed completion', async () => {
    const r = await client.completions.create({ model: TEXT_MODEL_ID, prompt: 'Once upon a time', max_tokens: 6, n: 2, seed: 3 });
    expect(r.object).toBe('text_completion');
    expect(r.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(r.usage!.completion_tokens).toBeGreaterThan(0);
    const s = await client.completions.create({ model: TEXT_MODEL_ID, prompt: 'Once upon a time', max_tokens: 6, seed: 3, stream: true });
    let text = '';
    for await (const c of s) text += c.choices[0]?.text ?? '';
    expect(text).toBe(r.choices[0].text);
  });

  it('images: b64_json decodes to a valid PNG; url is served by the server', async () => {
    const r = await client.images.generate({ model: imageModel, prompt: 'a handwritten 3', n: 2, response_format: 'b64_json', seed: 5 } as OpenAI.ImageGenerateParamsNonStreaming);
    expect(r.data).toHaveLength(2);
    const info = server.provider.models().find((x) => x.kind === 'image')! as { imageSize: number };
    for (const d of r.data!) {
      const png = Buffer.from(d.b64_json!, 'base64');
      const meta = await sharp(png).metadata();
      expect(meta.format).toBe('png');
      expect(meta.width).toBe(info.imageSize);
      expect(meta.height).toBe(info.imageSize);
      await sharp(png).raw().toBuffer(); // decodes fully
    }
    const again = await client.images.generate({ model: imageModel, prompt: 'a handwritten 3', n: 1, response_format: 'b64_json', seed: 5 } as OpenAI.ImageGenerateParamsNonStreaming);
    expect(again.data![0].b64_json).toBeDefined();
    const u = await client.images.generate({ model: imageModel, prompt: 'anything', response_format: 'url', size: `${info.imageSize * 2}x${info.imageSize * 2}` as '256x256', stream: false });
    const res = await fetch(u.data![0].url!);
    expect(res.status).toBe(200);
    expect((await sharp(Buffer.from(await res.arrayBuffer())).metadata()).width).toBe(info.imageSize * 2);
  });

  it('errors arrive as the client\'s typed errors', async () => {
    await expect(client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.chat.completions.create({ model: TEXT_MODEL_ID, messages: [{ role: 'user', content: 'x' }], presence_penalty: 1 })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    const anon = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'sk-wrong-key-0000000000000000', maxRetries: 0 });
    await expect(anon.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });
});
