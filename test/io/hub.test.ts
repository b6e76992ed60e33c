import { describe, it, expect, beforeAll, afterAll, beforeEach, afterEach } from 'vitest';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import {
  resolveModel, parseModelId, hubCacheDir, findCachedSnapshot, stderrProgressBar, type DownloadProgress,
} from '../../src/io/hub.js';
import { serializeSafetensors, readSafetensors } from '../../src/io/safetensors.js';
import { HubError } from '../../src/errors.js';

// ------------------------------------------------------------------------------------------------
// A fake hub: the URL layout of the real one, for a few tiny repos.

interface FakeRepo {
  /** revision name → commit */
  refs: Record<string, string>;
  /** commit → file name → content */
  commits: Record<string, Record<string, Buffer>>;
  /** Files served through a redirect to /cdn/{sha256} (as the hub does for LFS files). */
  lfs?: Set<string>;
  /** Redirect with an absolute Location instead of a relative one. */
  absoluteRedirect?: boolean;
  /** Token the repo requires (gated). */
  token?: string;
  /** Files whose first transfer the server cuts midway. */
  cutOnce?: Set<string>;
  /** Ignore Range headers (always answer 200 with the whole file). */
  ignoreRange?: boolean;
  /** Announce a wrong X-Linked-Etag for LFS files. */
  wrongEtag?: boolean;
}

interface Seen { method: string; url: string; range?: string; auth?: string }

const sha = (s: string) => createHash('sha1').update(s).digest('hex'); // 40 hex, like a commit
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const tinyWeights = () => Buffer.from(serializeSafetensors({
  'wte.weight': { dtype: 'F32', shape: [64, 8], data: new Float32Array(512).map((_, i) => i / 10) },
  'ln.bias': { dtype: 'F32', shape: [8], data: new Float32Array(8).fill(0.5) },
}));
const config = (tag: string) => Buffer.from(JSON.stringify({ model_type: 'gpt2', n_embd: 8, tag }));

let server: http.Server;
let endpoint: string;
let repos: Record<string, FakeRepo> = {};
let seen: Seen[] = [];
const cut = new Set<string>();

function findBlob(hash: string): Buffer | undefined {
  for (const r of Object.values(repos)) for (const files of Object.values(r.commits)) {
    for (const b of Object.values(files)) if (sha256(b) === hash) return b;
  }
  return undefined;
}

function serve(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, key: string, repo: FakeRepo | undefined, headers: Record<string, string> = {}): void {
  const fileName = key.split('/').pop()!;
  if (repo?.cutOnce?.has(fileName) && !cut.has(key)) {
    cut.add(key);
    res.writeHead(200, { ...headers, 'content-length': String(body.length) });
    res.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(() => res.socket?.destroy(), 20));
    return;
  }
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (m && !repo?.ignoreRange) {
    const start = Number(m[1]);
    if (start >= body.length) { res.writeHead(416, { 'content-range': `bytes */${body.length}` }); res.end(); return; }
    res.writeHead(206, { ...headers, 'content-length': String(body.length - start), 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` });
    res.end(req.method === 'HEAD' ? undefined : body.subarray(start));
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': String(body.length) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function authorized(req: http.IncomingMessage, res: http.ServerResponse, repo: FakeRepo): boolean {
  if (!repo.token) return true;
  const auth = req.headers.authorization;
  if (!auth) { res.writeHead(401); res.end('{"error":"Access to model is restricted"}'); return false; }
  if (auth !== `Bearer ${repo.token}`) { res.writeHead(403); res.end('{"error":"Invalid credentials"}'); return false; }
  return true;
}

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = decodeURIComponent(req.url ?? '/');
  seen.push({ method: req.method ?? '', url, range: req.headers.range, auth: req.headers.authorization });
  let m = /^\/api\/models\/(.+)\/revision\/([^/]+)$/.exec(url);
  if (m) {
    const repo = repos[m[1]!];
    if (!repo) { res.writeHead(404, { 'content-type': 'application/json' }); res.end('{"error":"Repository not found"}'); return; }
    if (!authorized(req, res, repo)) return;
    const commit = repo.refs[m[2]!] ?? (repo.commits[m[2]!] ? m[2]! : undefined);
    if (!commit) { res.writeHead(404, { 'x-error-code': 'RevisionNotFound' }); res.end(); return; }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: m[1], sha: commit, siblings: Object.keys(repo.commits[commit]!).map((rfilename) => ({ rfilename })) }));
    return;
  }
  m = /^\/(.+)\/resolve\/([^/]+)\/(.+)$/.exec(url);
  if (m) {
    const repo = repos[m[1]!];
    if (!repo) { res.writeHead(404); res.end(); return; }
    if (!authorized(req, res, repo)) return;
    const commit = repo.refs[m[2]!] ?? m[2]!;
    const body = repo.commits[commit]?.[m[3]!];
    if (!body) { res.writeHead(404, { 'x-error-code': 'EntryNotFound' }); res.end(); return; }
    const hash = sha256(body);
    if (repo.lfs?.has(m[3]!)) {
      const loc = `/cdn/${hash}?repo=${encodeURIComponent(m[1]!)}&file=${encodeURIComponent(m[3]!)}`;
      res.writeHead(302, {
        location: repo.absoluteRedirect ? `${endpoint}${loc}` : loc,
        'x-linked-etag': `"${repo.wrongEtag ? 'f'.repeat(64) : hash}"`,
        'x-linked-size': String(body.length),
      });
      res.end();
      return;
    }
    serve(req, res, body, `${m[1]}/${commit}/${m[3]}`, repo, { etag: `"${sha(body.toString('latin1'))}"` });
    return;
  }
  m = /^\/cdn\/([0-9a-f]{64})/.exec(url);
  if (m) {
    const body = findBlob(m[1]!);
    if (!body) { res.writeHead(404); res.end(); return; }
    const q = new URL(url, 'http://x').searchParams;
    const file = q.get('file') ?? '';
    const repo = repos[q.get('repo') ?? ''];
    serve(req, res, body, `cdn/${m[1]}/${file}`, repo, { etag: '"cdn-md5-ish"' });
    return;
  }
  res.writeHead(404);
  res.end();
}

const C1 = sha('commit-1');
const C2 = sha('commit-2');

const bigWeights = Buffer.from(serializeSafetensors({
  'h.0.w': { dtype: 'F32', shape: [1024, 1024], data: new Float32Array(1 << 20).map((_, i) => Math.sin(i)) },
}));

function standardRepos(): Record<string, FakeRepo> {
  const weights = tinyWeights();
  const files1 = {
    'config.json': config('v2'),
    'tokenizer.json': Buffer.from('{"model":{}}'),
    'vocab.json': Buffer.from('{"a":0}'),
    'merges.txt': Buffer.from('#version: 0.2\n'),
    'model.safetensors': weights,
    'pytorch_model.bin': Buffer.from('pickle!'),
    'README.md': Buffer.from('not downloaded'),
  };
  return {
    'tester/tiny': {
      refs: { main: C1, v1: C2 },
      commits: { [C1]: files1, [C2]: { 'config.json': config('v1'), 'model.safetensors': weights } },
      lfs: new Set(['model.safetensors']),
    },
    'tester/abs-redirect': { refs: { main: C1 }, commits: { [C1]: files1 }, lfs: new Set(['model.safetensors']), absoluteRedirect: true },
    'tester/gated': { refs: { main: C1 }, commits: { [C1]: { 'config.json': config('g'), 'model.safetensors': weights } }, token: 'hf_secret' },
    'tester/pt-only': { refs: { main: C1 }, commits: { [C1]: { 'config.json': config('pt'), 'pytorch_model.bin': Buffer.from('x') } } },
    'tester/flaky': { refs: { main: C1 }, commits: { [C1]: { 'config.json': config('f'), 'model.safetensors': bigWeights } }, lfs: new Set(['model.safetensors']), cutOnce: new Set(['model.safetensors']) },
    'tester/flaky-norange': { refs: { main: C1 }, commits: { [C1]: { 'config.json': config('f'), 'model.safetensors': weights } }, cutOnce: new Set(['model.safetensors']), ignoreRange: true },
    'tester/sharded': {
      refs: { main: C1 },
      commits: {
        [C1]: {
          'config.json': config('s'),
          'model.safetensors.index.json': Buffer.from(JSON.stringify({ metadata: {}, weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } })),
          'model-00001-of-00002.safetensors': Buffer.from(serializeSafetensors({ a: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } })),
          'model-00002-of-00002.safetensors': Buffer.from(serializeSafetensors({ b: { dtype: 'F32', shape: [1], data: new Float32Array([2]) } })),
        },
      },
      lfs: new Set(['model-00001-of-00002.safetensors']),
    },
    'tester/badsum': { refs: { main: C1 }, commits: { [C1]: { 'config.json': config('b'), 'model.safetensors': weights } }, lfs: new Set(['model.safetensors']), wrongEtag: true },
    'tester/corrupt': { refs: { main: C1 }, commits: { [C1]: { 'config.json': config('c'), 'model.safetensors': Buffer.from('definitely not safetensors') } } },
  };
}

// ------------------------------------------------------------------------------------------------

let tmp: string;
let cacheDir: string;
const savedEnv = { ...process.env };

beforeAll(async () => {
  server = http.createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aigc-hub-'));
  cacheDir = path.join(tmp, 'cache');
  for (const k of ['HF_HUB_OFFLINE', 'HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_HOME', 'HUGGINGFACE_HUB_CACHE']) delete process.env[k];
  process.env.HF_ENDPOINT = endpoint;
  process.env.HF_HUB_CACHE = cacheDir;
  repos = standardRepos();
  seen = [];
  cut.clear();
});
afterEach(() => {
  for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
  Object.assign(process.env, savedEnv);
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<HubError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(HubError);
    return e as HubError;
  }
  throw new Error('expected a rejection');
}

describe('model ids', () => {
  it('parses ids and revisions', () => {
    expect(parseModelId('gpt2')).toEqual({ repoId: 'gpt2', revision: 'main' });
    expect(parseModelId('openai-community/gpt2-large')).toEqual({ repoId: 'openai-community/gpt2-large', revision: 'main' });
    expect(parseModelId('microsoft/DialoGPT-small@v1.0')).toEqual({ repoId: 'microsoft/DialoGPT-small', revision: 'v1.0' });
    expect(parseModelId('a/b@refs/pr/1')).toEqual({ repoId: 'a/b', revision: 'refs/pr/1' });
    expect(parseModelId('a/b@x', 'y').revision).toBe('y');
  });
  it('rejects malformed ids with a HubError', async () => {
    for (const bad of ['a..b', 'org/..', 'a--b', 'a/b/c', '-a', 'a.', 'a b', 'a/b@', 'a/b@../x', '@main', 'x'.repeat(97)]) {
      expect(() => parseModelId(bad), bad).toThrow(HubError);
    }
    const e = await rejection(resolveModel('org/na..me'));
    expect(e.message).toMatch(/invalid model id 'org\/na\.\.me'.*'\.\.' is not allowed/);
    expect(e.code).toBe('bad_input');
    expect(seen).toEqual([]);
  });
  it('finds the cache directory from the environment', () => {
    expect(hubCacheDir({ HF_HUB_CACHE: '/x' })).toBe('/x');
    expect(hubCacheDir({ HF_HOME: '/h' })).toBe(path.join('/h', 'hub'));
    expect(hubCacheDir({ XDG_CACHE_HOME: '/c' })).toBe(path.join('/c', 'huggingface', 'hub'));
    expect(hubCacheDir({})).toBe(path.join(os.homedir(), '.cache', 'huggingface', 'hub'));
  });
});

describe('local directories', () => {
  it('returns an existing directory without any request', async () => {
    const dir = path.join(tmp, 'my-model');
    fs.mkdirSync(dir);
    expect(await resolveModel(dir)).toBe(dir);
    expect(seen).toEqual([]);
  });
  it('reports a missing path or a file clearly', async () => {
    expect((await rejection(resolveModel(path.join(tmp, 'nope')))).message).toMatch(/does not exist/);
    expect((await rejection(resolveModel('./nope/model'))).message).toMatch(/does not exist/);
    fs.writeFileSync(path.join(tmp, 'f'), 'x');
    expect((await rejection(resolveModel(path.join(tmp, 'f')))).message).toMatch(/is a file/);
  });
});

describe('download and cache', () => {
  it('downloads the needed files in the Python cache layout, then hits the cache', async () => {
    const progress: DownloadProgress[] = [];
    const dir = await resolveModel('tester/tiny', { onProgress: (p) => progress.push(p) });
    const repoDir = path.join(cacheDir, 'models--tester--tiny');
    expect(dir).toBe(path.join(repoDir, 'snapshots', C1));
    expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'merges.txt', 'model.safetensors', 'tokenizer.json', 'vocab.json']);
    expect(fs.readFileSync(path.join(repoDir, 'refs', 'main'), 'utf8')).toBe(C1);
    // Relative symlinks into blobs/, named by etag (the sha256 for LFS files).
    const weights = repos['tester/tiny']!.commits[C1]!['model.safetensors']!;
    const link = fs.readlinkSync(path.join(dir, 'model.safetensors'));
    expect(link).toBe(path.join('..', '..', 'blobs', sha256(weights)));
    expect(fs.readlinkSync(path.join(dir, 'config.json'))).toBe(path.join('..', '..', 'blobs', sha(config('v2').toString('latin1'))));
    expect(fs.readdirSync(path.join(repoDir, 'blobs')).filter((f) => f.includes('incomplete'))).toEqual([]);
    expect(readSafetensors(path.join(dir, 'model.safetensors')).getFloat32('ln.bias')[0]).toBe(0.5);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).tag).toBe('v2');
    // No unneeded files were fetched; the LFS file went through the redirect.
    const gets = seen.map((s) => s.url);
    expect(gets.some((u) => u.includes('pytorch_model.bin') || u.includes('README'))).toBe(false);
    expect(gets.some((u) => u.startsWith('/cdn/'))).toBe(true);
    const last = progress.filter((p) => p.file === 'model.safetensors').pop()!;
    expect(last).toEqual({ file: 'model.safetensors', downloaded: weights.length, total: weights.length });

    const before = seen.length;
    expect(await resolveModel('tester/tiny')).toBe(dir);
    expect(await resolveModel('tester/tiny@main')).toBe(dir);
    expect(seen.length).toBe(before);
  });

  it('follows an absolute redirect', async () => {
    const dir = await resolveModel('tester/abs-redirect');
    expect(fs.existsSync(path.join(dir, 'model.safetensors'))).toBe(true);
    expect(seen.some((s) => s.url.startsWith('/cdn/'))).toBe(true);
  });

  it('handles revisions: branch refs, tags and commits; blobs are shared', async () => {
    const main = await resolveModel('tester/tiny');
    const v1 = await resolveModel('tester/tiny@v1');
    const repoDir = path.join(cacheDir, 'models--tester--tiny');
    expect(v1).toBe(path.join(repoDir, 'snapshots', C2));
    expect(fs.readFileSync(path.join(repoDir, 'refs', 'v1'), 'utf8')).toBe(C2);
    expect(JSON.parse(fs.readFileSync(path.join(v1, 'config.json'), 'utf8')).tag).toBe('v1');
    // The weights blob was not fetched again for v1 (same etag).
    expect(seen.filter((s) => s.url.startsWith('/cdn/')).length).toBe(1);
    expect(main).not.toBe(v1);
    // A commit hash is used directly, with no ref written for it.
    const n = seen.length;
    expect(await resolveModel(`tester/tiny@${C2}`)).toBe(v1);
    expect(await resolveModel('tester/tiny', { revision: 'v1' })).toBe(v1);
    expect(seen.length).toBe(n);
    expect(fs.existsSync(path.join(repoDir, 'refs', C2))).toBe(false);
    // Unknown revision.
    expect((await rejection(resolveModel('tester/tiny@nope'))).message).toMatch(/revision 'nope' not found/);
  });

  it('refresh asks the hub again for a branch', async () => {
    await resolveModel('tester/tiny');
    const n = seen.length;
    repos['tester/tiny']!.refs.main = C2;
    expect(await resolveModel('tester/tiny', { refresh: true })).toMatch(new RegExp(`${C2}$`));
    expect(seen.length).toBeGreaterThan(n);
    expect(fs.readFileSync(path.join(cacheDir, 'models--tester--tiny', 'refs', 'main'), 'utf8')).toBe(C2);
  });

  it('downloads sharded checkpoints', async () => {
    const dir = await resolveModel('tester/sharded');
    expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json']);
    expect(readSafetensors(path.join(dir, 'model-00002-of-00002.safetensors')).getFloat32('b')[0]).toBe(2);
    const n = seen.length;
    await resolveModel('tester/sharded');
    expect(seen.length).toBe(n);
  });

  it('rejects a corrupt safetensors download (bad input: the repo is broken) and keeps nothing of it', async () => {
    const e = await rejection(resolveModel('tester/corrupt'));
    expect(e.message).toMatch(/'model\.safetensors' of 'tester\/corrupt' on the hub is not a valid safetensors file \(invalid safetensors file: .*\); the download was deleted/);
    expect(e.message).not.toMatch(/\.incomplete/);
    expect(e.code).toBe('bad_input');
    const blobs = path.join(cacheDir, 'models--tester--corrupt', 'blobs');
    expect(fs.readdirSync(blobs).filter((f) => f.includes('incomplete'))).toEqual([]);
  });
});

describe('integrity and concurrency', () => {
  it('rejects an LFS download whose sha256 differs from the announced etag', async () => {
    const e = await rejection(resolveModel('tester/badsum'));
    expect(e.message).toMatch(/is corrupt: sha256 [0-9a-f]{64}, expected f{64}/);
    const repoDir = path.join(cacheDir, 'models--tester--badsum');
    expect(fs.readdirSync(path.join(repoDir, 'blobs')).filter((f) => !f.endsWith('.lock'))).toHaveLength(1); // config.json only
    expect(fs.existsSync(path.join(repoDir, 'snapshots', C1, 'model.safetensors'))).toBe(false);
  });

  it('concurrent resolutions of one model download each file once', async () => {
    const [a, b] = await Promise.all([resolveModel('tester/tiny'), resolveModel('tester/tiny')]);
    expect(a).toBe(b);
    expect(seen.filter((s) => s.url.startsWith('/cdn/')).length).toBe(1);
    expect(seen.filter((s) => s.url.endsWith('/config.json')).length).toBe(1);
    expect(fs.readdirSync(path.join(cacheDir, 'models--tester--tiny', 'blobs')).filter((f) => /lock|incomplete/.test(f))).toEqual([]);
  });

  it('takes over the lock of a dead process', async () => {
    const blobs = path.join(cacheDir, 'models--tester--tiny', 'blobs');
    fs.mkdirSync(blobs, { recursive: true });
    const partial = createHash('sha256').update(`${C1}/config.json`).digest('hex') + '.incomplete';
    fs.writeFileSync(path.join(blobs, partial + '.lock'), '999999999');
    const dir = await resolveModel('tester/tiny');
    expect(fs.existsSync(path.join(dir, 'config.json'))).toBe(true);
    expect(fs.readdirSync(blobs).filter((f) => /lock|incomplete/.test(f))).toEqual([]);
  });
});

describe('offline mode', () => {
  it('uses the cache without the network', async () => {
    const dir = await resolveModel('tester/tiny');
    process.env.HF_HUB_OFFLINE = '1';
    const n = seen.length;
    expect(await resolveModel('tester/tiny')).toBe(dir);
    expect(seen.length).toBe(n);
  });
  it('fails clearly when the model is not cached', async () => {
    process.env.HF_HUB_OFFLINE = '1';
    const e = await rejection(resolveModel('tester/tiny'));
    expect(e.message).toContain('not in the cache');
    expect(e.message).toContain(cacheDir);
    expect(e.message).toMatch(/offline/);
    expect(seen).toEqual([]);
  });
});

describe('hub errors', () => {
  it('404: model not found on the hub', async () => {
    const e = await rejection(resolveModel('tester/missing'));
    expect(e.message).toMatch(/model 'tester\/missing' \(revision 'main'\) not found on the hub/);
    expect(e.code).toBe('bad_input');
  });

  it('401 without a token, 403 with a wrong one, success with the right one', async () => {
    let e = await rejection(resolveModel('tester/gated'));
    expect(e.message).toMatch(/HTTP 401/);
    expect(e.message).toMatch(/gated/);
    expect(e.message).toMatch(/HF_TOKEN/);
    process.env.HF_TOKEN = 'wrong';
    e = await rejection(resolveModel('tester/gated'));
    expect(e.message).toMatch(/HTTP 403.*although HF_TOKEN was sent/);
    process.env.HF_TOKEN = 'hf_secret';
    seen = [];
    const dir = await resolveModel('tester/gated');
    expect(fs.existsSync(path.join(dir, 'model.safetensors'))).toBe(true);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((s) => s.auth === 'Bearer hf_secret')).toBe(true);
  });

  it('explains how to convert a PyTorch-only repo', async () => {
    const e = await rejection(resolveModel('tester/pt-only'));
    expect(e.message).toMatch(/only pytorch_model\.bin/);
    expect(e.message).toMatch(/safetensors only/);
    expect(e.message).toMatch(/save_pretrained\('out', safe_serialization=True\)/);
    expect(seen.some((s) => s.url.includes('pytorch_model.bin'))).toBe(false);
  });

  it('reports an unknown model when the hub cannot be reached (bad input, exit 2)', async () => {
    const dead = http.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    process.env.HF_ENDPOINT = `http://127.0.0.1:${port}`;
    const e = await rejection(resolveModel('tester/tiny'));
    expect(e.message).toMatch(/model 'tester\/tiny' is not a local directory nor in the Hugging Face cache, and cannot reach .* to fetch 'tester\/tiny'; check the connection \(or HF_ENDPOINT for a mirror\), or pass a local model directory/);
    expect(e.message).not.toMatch(/HF_HUB_OFFLINE/);
    expect(e.code).toBe('bad_input');
  });
});

describe('resumable downloads', () => {
  it('resumes an interrupted download on the next run with a Range request', async () => {
    const e = await rejection(resolveModel('tester/flaky', { retries: 0 }));
    expect(e.message).toMatch(/interrupted.*run again to resume/);
    const blobs = path.join(cacheDir, 'models--tester--flaky', 'blobs');
    const partial = fs.readdirSync(blobs).filter((f) => f.endsWith('.incomplete'));
    expect(partial.length).toBe(1);
    const weights = repos['tester/flaky']!.commits[C1]!['model.safetensors']!;
    const have = fs.statSync(path.join(blobs, partial[0]!)).size;
    expect(have).toBeGreaterThan(0);
    expect(have).toBeLessThan(weights.length);
    expect(fs.existsSync(path.join(cacheDir, 'models--tester--flaky', 'snapshots', C1, 'model.safetensors'))).toBe(false);

    seen = [];
    const dir = await resolveModel('tester/flaky', { retries: 0 });
    const ranged = seen.filter((s) => s.range);
    expect(ranged.map((s) => s.range)).toEqual([`bytes=${have}-`, `bytes=${have}-`]); // hub, then CDN after the redirect
    expect(fs.readFileSync(path.join(dir, 'model.safetensors')).equals(weights)).toBe(true);
    expect(fs.readdirSync(blobs).filter((f) => f.endsWith('.incomplete'))).toEqual([]);
  });

  it('retries within one call by default', async () => {
    const dir = await resolveModel('tester/flaky');
    expect(seen.some((s) => s.range)).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'model.safetensors')).equals(repos['tester/flaky']!.commits[C1]!['model.safetensors']!)).toBe(true);
  });

  it('accepts a complete partial file (416 for its length) and restarts a bad one', async () => {
    const blobs = path.join(cacheDir, 'models--tester--tiny', 'blobs');
    fs.mkdirSync(blobs, { recursive: true });
    const partialOf = (f: string) => path.join(blobs, createHash('sha256').update(`${C1}/${f}`).digest('hex') + '.incomplete');
    const cfg = repos['tester/tiny']!.commits[C1]!['config.json']!;
    fs.writeFileSync(partialOf('config.json'), cfg);
    fs.writeFileSync(partialOf('vocab.json'), 'this is longer than the real vocab file');
    const dir = await resolveModel('tester/tiny');
    expect(fs.readFileSync(path.join(dir, 'config.json')).equals(cfg)).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'vocab.json'), 'utf8')).toBe('{"a":0}');
    expect(seen.filter((s) => s.url.endsWith('/config.json')).map((s) => s.range)).toEqual([`bytes=${cfg.length}-`]);
    expect(seen.filter((s) => s.url.endsWith('/vocab.json')).map((s) => s.range)).toEqual([expect.stringMatching(/^bytes=/), undefined]);
    expect(fs.readdirSync(blobs).filter((f) => /lock|incomplete/.test(f))).toEqual([]);
  });

  it('starts over when the server ignores Range', async () => {
    const dir = await resolveModel('tester/flaky-norange');
    expect(seen.some((s) => s.range)).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'model.safetensors')).equals(repos['tester/flaky-norange']!.commits[C1]!['model.safetensors']!)).toBe(true);
  });
});

describe('existing Python cache', () => {
  /** Lays out a cache as huggingface_hub does: blobs + relative symlinks + refs. */
  function pythonCache(folder: string, commit: string, files: Record<string, Buffer>, ref = 'main'): string {
    const repoDir = path.join(cacheDir, folder);
    fs.mkdirSync(path.join(repoDir, 'blobs'), { recursive: true });
    fs.mkdirSync(path.join(repoDir, 'refs'), { recursive: true });
    const snap = path.join(repoDir, 'snapshots', commit);
    fs.mkdirSync(snap, { recursive: true });
    for (const [name, body] of Object.entries(files)) {
      const blob = sha256(body);
      fs.writeFileSync(path.join(repoDir, 'blobs', blob), body);
      fs.symlinkSync(`../../blobs/${blob}`, path.join(snap, name));
    }
    fs.writeFileSync(path.join(repoDir, 'refs', ref), commit);
    return snap;
  }

  it('finds models--gpt2 for "gpt2" without the network', async () => {
    const snap = pythonCache('models--gpt2', C1, { 'config.json': config('py'), 'model.safetensors': tinyWeights(), 'vocab.json': Buffer.from('{}') });
    expect(await resolveModel('gpt2')).toBe(snap);
    expect(seen).toEqual([]);
    expect(readSafetensors(path.join(await resolveModel('gpt2'), 'model.safetensors')).names()).toEqual(['ln.bias', 'wte.weight']);
  });

  it('finds the canonical alias for a legacy id, and the other way round', async () => {
    const snap = pythonCache('models--openai-community--gpt2-large', C1, { 'config.json': config('py'), 'model.safetensors': tinyWeights() });
    expect(await resolveModel('gpt2-large')).toBe(snap);
    const snap2 = pythonCache('models--distilgpt2', C2, { 'config.json': config('py'), 'model.safetensors': tinyWeights() });
    expect(await resolveModel('distilbert/distilgpt2')).toBe(snap2);
    expect(seen).toEqual([]);
  });

  it('ignores incomplete snapshots (missing weights, broken links, missing shards)', () => {
    pythonCache('models--a--noweights', C1, { 'config.json': config('x') });
    expect(findCachedSnapshot('a/noweights', 'main', cacheDir)).toBeUndefined();
    const snap = pythonCache('models--a--broken', C1, { 'config.json': config('x'), 'model.safetensors': tinyWeights() });
    fs.rmSync(path.join(cacheDir, 'models--a--broken', 'blobs', sha256(tinyWeights())));
    expect(fs.lstatSync(path.join(snap, 'model.safetensors')).isSymbolicLink()).toBe(true);
    expect(findCachedSnapshot('a/broken', 'main', cacheDir)).toBeUndefined();
    pythonCache('models--a--shards', C1, {
      'config.json': config('x'),
      'model.safetensors.index.json': Buffer.from(JSON.stringify({ weight_map: { a: 's1.safetensors', b: 's2.safetensors' } })),
      's1.safetensors': tinyWeights(),
    });
    expect(findCachedSnapshot('a/shards', 'main', cacheDir)).toBeUndefined();
    fs.writeFileSync(path.join(cacheDir, 'models--a--shards', 'snapshots', C1, 's2.safetensors'), tinyWeights());
    expect(findCachedSnapshot('a/shards', 'main', cacheDir)).toMatch(/snapshots/);
  });
});

describe('progress bar', () => {
  it('draws on a TTY and writes a line per quarter otherwise', () => {
    let out = '';
    const fake = { isTTY: true, columns: 80, write: (s: string) => { out += s; return true; } } as unknown as NodeJS.WriteStream;
    const bar = stderrProgressBar(fake);
    bar({ file: 'model.safetensors', downloaded: 0, total: 1000 });
    bar({ file: 'model.safetensors', downloaded: 1000, total: 1000 });
    expect(out).toContain('model.safetensors [');
    expect(out).toContain('100%');
    expect(out.endsWith('\n')).toBe(true);
    let log = '';
    const pipe = { isTTY: false, write: (s: string) => { log += s; return true; } } as unknown as NodeJS.WriteStream;
    const lines = stderrProgressBar(pipe);
    for (let d = 0; d <= 1000; d += 10) lines({ file: 'x', downloaded: d, total: 1000 });
    lines({ file: 'big', downloaded: 200 << 20, total: undefined });
    expect(log.split('\n').filter(Boolean)).toEqual([
      'aigc: downloading x: 0% of 1000 B', 'aigc: downloading x: 25% of 1000 B', 'aigc: downloading x: 50% of 1000 B',
      'aigc: downloading x: 75% of 1000 B', 'aigc: downloading x: 100% of 1000 B', 'aigc: downloading big: 200.0 MiB',
    ]);
  });
});
