/** Access control, loopback-only without keys, encrypted history and persistence across restarts. */
import Database from 'better-sqlite3';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/server/index.js';
import { collectApiKeys, hashApiKey, HistoryCipher, matchApiKey, parseHistoryKey } from '../../src/server/security.js';
import { FakeProvider } from './fake-provider.js';
import { cleanup, json, tempDir, withServer } from './helpers.js';

const KEY = 'sk-test-key-aaaaaaaaaaaaaaaaaaaaaaaa';
const OTHER = 'sk-test-key-bbbbbbbbbbbbbbbbbbbbbbbb';
const HISTORY_KEY = 'ab'.repeat(32);

describe('with API keys configured', () => {
  let server: RunningServer;
  let dir: string;
  let imageUrl: string;
  beforeAll(async () => {
    dir = tempDir();
    server = await withServer({ provider: new FakeProvider(), dataDir: dir, apiKeys: [KEY], env: { AIGC_API_KEYS: OTHER } });
    const r = await fetch(server.url + '/v1/images/generations', json({ prompt: 'x' }, { authorization: `Bearer ${KEY}` }));
    imageUrl = (await r.json()).data[0].url;
  });
  afterAll(async () => { await server.close(); cleanup(dir); });

  const routes: [string, string, unknown?][] = [
    ['GET', '/health'], ['GET', '/v1/models'], ['GET', '/v1/models/fake-text'],
    ['POST', '/v1/chat/completions', { model: 'fake-text', messages: [{ role: 'user', content: 'x' }] }],
    ['POST', '/v1/chat/completions', { model: 'fake-text', messages: [{ role: 'user', content: 'x' }], stream: true }],
    ['POST', '/v1/completions', { model: 'fake-text', prompt: 'x' }],
    ['POST', '/v1/images/generations', { prompt: 'x' }], ['POST', '/v1/images/interpolations', { seed_a: 1, seed_b: 2 }],
    ['GET', '/v1/images/files/img_00000000000000000000000000000000.png'],
    ['POST', '/v1/training/jobs', { kind: 'image', steps: 1 }], ['GET', '/v1/training/jobs'],
    ['GET', '/'], ['GET', '/index.html'], ['GET', '/api/info'], ['GET', '/api/conversations'], ['GET', '/api/images'],
    ['POST', '/api/conversations', { title: 't', model: 'm' }], ['GET', '/no/such/route'], ['POST', '/v1/chat/completions', 'not json'],
  ];

  it.each(routes)('%s %s without a valid key: 401 and nothing else', async (method, p, body) => {
    for (const auth of [undefined, 'Bearer sk-wrong-key-ccccccccccccccccccc', `Bearer ${KEY}x`, 'Basic ' + Buffer.from('u:nope').toString('base64'), 'Token abc']) {
      const headers: Record<string, string> = {};
      if (auth) headers.authorization = auth;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const r = await fetch(server.url + p, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
      expect(r.status).toBe(401);
      const b = await r.json();
      expect(Object.keys(b)).toEqual(['error']);
      expect(b.error.code).toBe('invalid_api_key');
      expect(r.headers.get('www-authenticate')).toBeTruthy();
    }
  });

  it('accepts every configured key, as Bearer or as the Basic-auth password (the studio)', async () => {
    for (const key of [KEY, OTHER]) {
      expect((await fetch(server.url + '/v1/models', { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
      expect((await fetch(server.url + '/api/info', { headers: { authorization: 'Basic ' + Buffer.from(`me:${key}`).toString('base64') } })).status).toBe(200);
    }
  });

  it('image URLs work by their signature alone, and only unaltered and unexpired', async () => {
    expect((await fetch(imageUrl)).status).toBe(200);
    expect((await fetch(imageUrl.replace(/sig=./, 'sig=A'))).status).toBe(401);
    expect((await fetch(imageUrl.replace(/exp=(\d+)/, (_m, e) => `exp=${Number(e) + 1}`))).status).toBe(401);
    expect((await fetch(imageUrl.replace(/img_[0-9a-f]{4}/, 'img_ffff'))).status).toBe(401);
  });

  it('stores only key hashes', () => {
    const db = new Database(path.join(dir, 'aigc.sqlite'), { readonly: true });
    const rows = db.prepare('SELECT hash FROM api_keys').all() as { hash: string }[];
    db.close();
    expect(rows.map((r) => r.hash).sort()).toEqual([hashApiKey(KEY), hashApiKey(OTHER)].sort());
    expect(JSON.stringify(rows)).not.toContain(KEY);
  });
});

describe('keys and ciphers', () => {
  it('matches keys against hashes; rejects short keys', () => {
    const hashes = [hashApiKey(KEY), hashApiKey(OTHER)];
    expect(matchApiKey(KEY, hashes)).toBe(true);
    expect(matchApiKey(OTHER, hashes)).toBe(true);
    expect(matchApiKey('sk-test-key-aaaaaaaaaaaaaaaaaaaaaaab', hashes)).toBe(false);
    expect(() => collectApiKeys(['short'], undefined)).toThrow(/at least 16/);
    expect(collectApiKeys([KEY], `${OTHER}, ${KEY}`)).toEqual([KEY, OTHER]);
  });

  it('AES-256-GCM round trip; tampering or another row fails; clear key errors', () => {
    const c = new HistoryCipher(parseHistoryKey(HISTORY_KEY));
    const sealed = c.encrypt('secret text', 'message:1');
    expect(sealed).not.toContain('secret');
    expect(c.decrypt(sealed, 'message:1')).toBe('secret text');
    expect(() => c.decrypt(sealed, 'message:2')).toThrow();
    expect(parseHistoryKey(Buffer.alloc(32, 7).toString('base64'))).toEqual(Buffer.alloc(32, 7));
    expect(() => parseHistoryKey(undefined)).toThrow(/AIGC_HISTORY_KEY/);
    expect(() => parseHistoryKey('abcd')).toThrow(/32 bytes/);
  });
});

describe('binding and persistence', () => {
  it('without keys it listens on loopback only', async () => {
    const dir = tempDir();
    try {
      await expect(withServer({ provider: new FakeProvider(), dataDir: dir, host: '0.0.0.0' })).rejects.toThrow(/refusing to listen on 0\.0\.0\.0 without API keys/);
      const s = await withServer({ provider: new FakeProvider(), dataDir: dir, host: '0.0.0.0', apiKeys: [KEY] });
      await s.close();
    } finally {
      cleanup(dir);
    }
  });

  it('without keys, only loopback Host names are answered (no DNS rebinding)', async () => {
    const dir = tempDir();
    const s = await withServer({ provider: new FakeProvider(), dataDir: dir });
    try {
      const port = new URL(s.url).port;
      const http = await import('node:http');
      const get = (host: string) => new Promise<number>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/v1/models', headers: { host } }, (res) => { res.resume(); resolve(res.statusCode!); }).on('error', reject);
      });
      expect(await get(`127.0.0.1:${port}`)).toBe(200);
      expect(await get(`localhost:${port}`)).toBe(200);
      expect(await get(`evil.example:${port}`)).toBe(403);
      expect(await get('rebound.attacker.test')).toBe(403);
    } finally {
      await s.close();
      cleanup(dir);
    }
  });

  it('keeps conversations (encrypted at rest), images and jobs across restarts', async () => {
    const dir = tempDir();
    const env = { AIGC_HISTORY_KEY: HISTORY_KEY };
    try {
      let s = await withServer({ provider: new FakeProvider(), dataDir: dir, encryptHistory: true, env });
      const conv = await (await fetch(s.url + '/api/conversations', json({ title: 'Plans for the weekend', model: 'fake-text' }))).json();
      const add = await fetch(s.url + `/api/conversations/${conv.id}/messages`, json({ messages: [{ role: 'user', content: 'the password is swordfish' }, { role: 'assistant', content: 'noted, captain', meta: { seed: 4 } }] }));
      expect(add.status).toBe(201);
      const img = await (await fetch(s.url + '/v1/images/generations', json({ prompt: 'persistent digit', response_format: 'url' }))).json();
      const job = await (await fetch(s.url + '/v1/training/jobs', json({ kind: 'image', steps: 2 }))).json();
      await new Promise((r) => setTimeout(r, 300));
      await s.close();

      // On disk: ciphertext only.
      const db = new Database(path.join(dir, 'aigc.sqlite'), { readonly: true });
      const dump = JSON.stringify([db.prepare('SELECT * FROM messages').all(), db.prepare('SELECT * FROM conversations').all()]);
      const migrations = db.prepare('SELECT version FROM migrations').all();
      db.close();
      expect(dump).not.toContain('swordfish');
      expect(dump).not.toContain('captain');
      expect(dump).not.toContain('weekend');
      expect(dump).toContain('gcm1:');
      expect(migrations).toEqual([{ version: 1 }]);

      // Restart: everything is still there.
      s = await withServer({ provider: new FakeProvider(), dataDir: dir, encryptHistory: true, env });
      const got = await (await fetch(s.url + `/api/conversations/${conv.id}`)).json();
      expect(got.title).toBe('Plans for the weekend');
      expect(got.messages.map((m: { content: string }) => m.content)).toEqual(['the password is swordfish', 'noted, captain']);
      expect(got.messages[1].meta).toEqual({ seed: 4 });
      const list = await (await fetch(s.url + '/api/conversations')).json();
      expect(list.data.map((c: { id: string }) => c.id)).toEqual([conv.id]);
      const images = await (await fetch(s.url + '/api/images')).json();
      expect(images.data.map((i: { id: string }) => i.id)).toContain(img.data[0].id);
      expect((await fetch(s.url + images.data[0].url)).status).toBe(200);
      const j = await (await fetch(s.url + `/v1/training/jobs/${job.id}`)).json();
      expect(j.status).toBe('succeeded');
      await s.close();

      // The wrong key, or no key, is a clear start-up error.
      await expect(withServer({ provider: new FakeProvider(), dataDir: dir, encryptHistory: true, env: { AIGC_HISTORY_KEY: 'cd'.repeat(32) } })).rejects.toThrow(/does not match/);
      await expect(withServer({ provider: new FakeProvider(), dataDir: dir, encryptHistory: true, env: {} })).rejects.toThrow(/AIGC_HISTORY_KEY/);
      // Without the key the history stays unreadable (and intact).
      s = await withServer({ provider: new FakeProvider(), dataDir: dir, env: {} });
      const locked = await (await fetch(s.url + `/api/conversations/${conv.id}`)).json();
      expect(locked.messages[0].content).toMatch(/^\[encrypted/);
      await s.close();
    } finally {
      cleanup(dir);
    }
  });
});
