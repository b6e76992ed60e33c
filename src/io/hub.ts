/**
 * Hugging Face model resolution and download.
 *
 * {@link resolveModel} turns a local directory or a hub id (`gpt2`, `openai-community/gpt2-large`,
 * `microsoft/DialoGPT-small@main`) into a local directory holding `config.json`, tokenizer files
 * and safetensors weights. It looks in the local Hugging Face cache first and downloads only what
 * is missing, storing files exactly as Python's `huggingface_hub` does, so both share one cache:
 *
 * ```
 * {cache}/models--{org}--{name}/
 *   blobs/{etag}                        file contents (LFS etag = sha256 of the content)
 *   snapshots/{commit}/{filename}       relative symlinks to ../../blobs/{etag}
 *   refs/{revision}                     the commit a branch / tag pointed to
 * ```
 *
 * Environment (read at call time; every one can be overridden through {@link ResolveModelOptions}):
 * - `HF_HUB_CACHE` (or legacy `HUGGINGFACE_HUB_CACHE`): the cache directory; else `$HF_HOME/hub`;
 *   else `$XDG_CACHE_HOME/huggingface/hub`; else `~/.cache/huggingface/hub`.
 * - `HF_HUB_OFFLINE=1`: never touch the network; a model missing from the cache is an error.
 * - `HF_ENDPOINT`: the hub's base URL, default `https://huggingface.co`.
 * - `HF_TOKEN` (or legacy `HUGGING_FACE_HUB_TOKEN`): sent as `Authorization: Bearer …` to the
 *   hub (not to other hosts the hub redirects to), for gated and private repos.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { HubError } from '../errors.js';
import { writeFileAtomicAsync } from './atomic.js';
import { readSafetensorsHeader } from './safetensors.js';

/** Progress of one file's download. */
export interface DownloadProgress {
  /** File name inside the repo, e.g. `model.safetensors`. */
  file: string;
  /** Bytes of the file on disk so far (including bytes from an earlier, resumed attempt). */
  downloaded: number;
  /** Total size in bytes when the server told it, else undefined. */
  total: number | undefined;
}

/** Options of {@link resolveModel}. */
export interface ResolveModelOptions {
  /** Revision (branch, tag or 40-hex commit). Default: the `@revision` suffix of the id, else `'main'`. */
  revision?: string;
  /** Cache directory. Default: from the environment, see the module documentation. */
  cacheDir?: string;
  /** Hub base URL. Default: `HF_ENDPOINT`, else `https://huggingface.co`. */
  endpoint?: string;
  /** Access token. Default: `HF_TOKEN`, else `HUGGING_FACE_HUB_TOKEN`, else none. */
  token?: string;
  /** Offline mode. Default: true when `HF_HUB_OFFLINE` is `1`, `true`, `yes` or `on`. */
  offline?: boolean;
  /** Ignore a usable cached snapshot of a branch/tag and ask the hub again. Default false. */
  refresh?: boolean;
  /** Called as bytes arrive (and once per file at completion). Default: none. */
  onProgress?: (p: DownloadProgress) => void;
  /** Extra attempts per file after an interrupted transfer, each resuming where the last stopped. Default 2. */
  retries?: number;
  /** Abort a request when no data arrives for this long, in ms. Default 60000. */
  stallTimeoutMs?: number;
  /** Environment to read the variables above from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** A parsed hub id. */
export interface ModelId {
  /** `name` or `org/name`. */
  repoId: string;
  /** Branch, tag or commit; `'main'` when not given. */
  revision: string;
}

/** Files fetched besides the weights when the repo has them. `config.json` is required. */
export const MODEL_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'vocab.json',
  'merges.txt',
  'tokenizer_config.json',
  'special_tokens_map.json',
] as const;

const SAFETENSORS = 'model.safetensors';
const SAFETENSORS_INDEX = 'model.safetensors.index.json';
const DEFAULT_ENDPOINT = 'https://huggingface.co';

/** Legacy ids without an organisation and their canonical names; the cache may hold either. */
export const LEGACY_ALIASES: Readonly<Record<string, string>> = {
  gpt2: 'openai-community/gpt2',
  'gpt2-medium': 'openai-community/gpt2-medium',
  'gpt2-large': 'openai-community/gpt2-large',
  'gpt2-xl': 'openai-community/gpt2-xl',
  distilgpt2: 'distilbert/distilgpt2',
};

const COMMIT_RE = /^[0-9a-f]{40}$/;
const NAME_PART_RE = /^[A-Za-z0-9_.-]+$/;

// ---------------------------------------------------------------------------------------------
// Ids, environment, cache layout

function truthy(v: string | undefined): boolean {
  return v !== undefined && ['1', 'true', 'yes', 'on'].includes(v.trim().toLowerCase());
}

/**
 * Parses and validates `name`, `org/name`, optionally followed by `@revision`.
 * Rules follow the hub's: letters, digits, `-`, `_`, `.`; at most 96 characters; no `--` or
 * `..`; no part starting or ending with `-` or `.`. Throws {@link HubError} when malformed.
 */
export function parseModelId(spec: string, revision?: string): ModelId {
  const bad = (why: string): never => {
    throw new HubError(`invalid model id '${spec}': ${why}. Expected a local directory or a hub id like 'gpt2', 'openai-community/gpt2-large' or 'org/name@revision'`);
  };
  const at = spec.indexOf('@');
  const repoId = at >= 0 ? spec.slice(0, at) : spec;
  const rev = revision ?? (at >= 0 ? spec.slice(at + 1) : 'main');
  if (repoId.length === 0) bad('empty name');
  if (repoId.length > 96) bad('longer than 96 characters');
  const parts = repoId.split('/');
  if (parts.length > 2) bad('more than one "/"');
  for (const p of parts) {
    if (!NAME_PART_RE.test(p)) bad(`'${p}' may only contain letters, digits, '-', '_' and '.'`);
    if (/^[-.]|[-.]$/.test(p)) bad(`'${p}' may not start or end with '-' or '.'`);
  }
  if (repoId.includes('..')) bad(`'..' is not allowed`);
  if (repoId.includes('--')) bad(`'--' is not allowed`);
  if (rev.length === 0) bad('empty revision after "@"');
  if (!/^[A-Za-z0-9_.\-/]+$/.test(rev) || rev.includes('..') || rev.startsWith('/') || rev.endsWith('/') || rev.includes('//')) {
    bad(`revision '${rev}' may only contain letters, digits, '-', '_', '.' and '/'`);
  }
  return { repoId, revision: rev };
}

/** The hub cache directory for `env` (see the module documentation). */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const expand = (p: string) => (p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p);
  if (env.HF_HUB_CACHE) return expand(env.HF_HUB_CACHE);
  if (env.HUGGINGFACE_HUB_CACHE) return expand(env.HUGGINGFACE_HUB_CACHE);
  if (env.HF_HOME) return path.join(expand(env.HF_HOME), 'hub');
  const xdg = env.XDG_CACHE_HOME ? expand(env.XDG_CACHE_HOME) : path.join(os.homedir(), '.cache');
  return path.join(xdg, 'huggingface', 'hub');
}

/** Folder of a repo in the cache: `models--{org}--{name}`. */
export function repoFolderName(repoId: string): string {
  return `models--${repoId.split('/').join('--')}`;
}

/** The repo id itself, then its canonical / legacy alias when it has one. */
function candidateRepoIds(repoId: string): string[] {
  const out = [repoId];
  const alias = LEGACY_ALIASES[repoId];
  if (alias) out.push(alias);
  for (const [legacy, canonical] of Object.entries(LEGACY_ALIASES)) if (canonical === repoId) out.push(legacy);
  return out;
}

/** True when `dir` has `config.json` and complete safetensors weights (single file or index + all shards). */
export function isUsableSnapshot(dir: string): boolean {
  if (!fs.existsSync(path.join(dir, 'config.json'))) return false;
  if (fs.existsSync(path.join(dir, SAFETENSORS))) return true;
  const indexPath = path.join(dir, SAFETENSORS_INDEX);
  if (!fs.existsSync(indexPath)) return false;
  try {
    const shards = shardsOfIndex(JSON.parse(fs.readFileSync(indexPath, 'utf8')), indexPath);
    return shards.every((s) => fs.existsSync(path.join(dir, s)));
  } catch {
    return false;
  }
}

/** Shard file names of a `model.safetensors.index.json`, validated. */
function shardsOfIndex(index: unknown, where: string): string[] {
  const map = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new HubError(`${where}: no weight_map object in the safetensors index`);
  }
  const shards = new Set<string>();
  for (const v of Object.values(map)) {
    if (typeof v !== 'string' || !isSafeRelativePath(v)) throw new HubError(`${where}: bad shard file name ${JSON.stringify(v)}`);
    shards.add(v);
  }
  if (shards.size === 0) throw new HubError(`${where}: the safetensors index lists no shards`);
  return [...shards].sort();
}

function isSafeRelativePath(p: string): boolean {
  if (p.length === 0 || p.startsWith('/') || p.includes('\\') || p.includes('\0')) return false;
  return p.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

/**
 * Finds a usable cached snapshot of `repoId` at `revision` (branch/tag via `refs/`, or a commit
 * directly), also trying the legacy/canonical alias. Returns its directory or undefined.
 */
export function findCachedSnapshot(repoId: string, revision: string, cacheDir: string): string | undefined {
  for (const id of candidateRepoIds(repoId)) {
    const repoDir = path.join(cacheDir, repoFolderName(id));
    let commit: string | undefined;
    if (COMMIT_RE.test(revision)) commit = revision;
    else {
      try {
        commit = fs.readFileSync(path.join(repoDir, 'refs', revision), 'utf8').trim();
      } catch {
        continue;
      }
      if (!COMMIT_RE.test(commit)) continue;
    }
    const snap = path.join(repoDir, 'snapshots', commit);
    if (isUsableSnapshot(snap)) return snap;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// HTTP

interface Ctx {
  repoId: string;
  revision: string;
  endpoint: string;
  token: string | undefined;
  stallTimeoutMs: number;
}

function authHint(ctx: Ctx, status: number): string {
  return ctx.token
    ? `access to '${ctx.repoId}' was refused (HTTP ${status}) although HF_TOKEN was sent: check that the token is valid and has read access, and, if the repo is gated, that you accepted its terms on the hub with that account`
    : `access to '${ctx.repoId}' was refused (HTTP ${status}): the repo is gated or private. Accept its terms on the hub, then set HF_TOKEN to an access token of your account (https://huggingface.co/settings/tokens)`;
}

function notFound(ctx: Ctx, what?: string): HubError {
  return new HubError(what
    ? `${what} not found in model '${ctx.repoId}' at revision '${ctx.revision}' on the hub (${ctx.endpoint})`
    : `model '${ctx.repoId}' (revision '${ctx.revision}') not found on the hub (${ctx.endpoint}). Check the spelling${ctx.token ? '' : '; a private repo also needs HF_TOKEN'}`);
}

/** Turns a non-OK hub response into the right HubError. */
function statusError(ctx: Ctx, res: Response, what?: string): HubError {
  const code = res.headers.get('x-error-code');
  if (code === 'GatedRepo') return new HubError(authHint(ctx, res.status));
  if (code === 'RevisionNotFound') return new HubError(`revision '${ctx.revision}' not found in model '${ctx.repoId}' on the hub`);
  if (code === 'EntryNotFound') return notFound(ctx, what);
  if (code === 'RepoNotFound') return notFound(ctx);
  if (res.status === 401 || res.status === 403) return new HubError(authHint(ctx, res.status));
  if (res.status === 404) return notFound(ctx, what);
  return new HubError(`the hub (${ctx.endpoint}) answered HTTP ${res.status} ${res.statusText} for ${what ?? `model '${ctx.repoId}'`}`, { code: 'internal' });
}

interface Fetched {
  res: Response;
  /** `X-Linked-Etag` of any response in the redirect chain, else the first `ETag` seen. */
  etag: string | undefined;
  /** `X-Linked-Size` of the chain, when given. */
  linkedSize: number | undefined;
  /** True when `etag` came from `X-Linked-Etag` (an LFS file: the etag is the content's sha256). */
  linked: boolean;
  /** True when the chain was stopped at a redirect because `haveBlob(etag)` said the content is cached. */
  reused: boolean;
}

/**
 * GET with redirects followed by hand (up to 10; relative or absolute Location), so that the
 * hub's own headers (etag) are seen and the token is sent only to the hub's origin.
 */
async function hubGet(
  ctx: Ctx, url: string, headers: Record<string, string>, signal: AbortSignal, haveBlob?: (etag: string) => boolean,
): Promise<Fetched> {
  const origin = new URL(ctx.endpoint).origin;
  let current = url;
  let etag: string | undefined;
  let linkedEtag: string | undefined;
  let linkedSize: number | undefined;
  for (let hop = 0; hop <= 10; hop++) {
    const h: Record<string, string> = { 'user-agent': 'aigc', 'accept-encoding': 'identity', ...headers };
    if (ctx.token && new URL(current).origin === origin) h.authorization = `Bearer ${ctx.token}`;
    let res: Response;
    try {
      res = await fetch(current, { headers: h, redirect: 'manual', signal });
    } catch (e) {
      throw new NetError(`cannot reach ${new URL(current).origin} (${describe(e)}) to fetch '${ctx.repoId}'; check the connection (or HF_ENDPOINT for a mirror), or pass a local model directory`, { code: 'internal', cause: e });
    }
    linkedEtag ??= res.headers.get('x-linked-etag') ?? undefined;
    etag ??= res.headers.get('etag') ?? undefined;
    const ls = res.headers.get('x-linked-size');
    if (ls !== null && linkedSize === undefined && /^\d+$/.test(ls)) linkedSize = Number(ls);
    const loc = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && loc) {
      await res.body?.cancel().catch(() => undefined);
      const known = normalizeEtag(linkedEtag);
      if (known && haveBlob?.(known)) return { res, etag: known, linkedSize, linked: true, reused: true };
      current = new URL(loc, current).toString();
      continue;
    }
    return { res, etag: normalizeEtag(linkedEtag ?? etag), linkedSize, linked: linkedEtag !== undefined, reused: false };
  }
  throw new HubError(`too many redirects fetching ${url}`, { code: 'internal' });
}

function describe(e: unknown): string {
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  const cause = err?.cause?.code ?? err?.cause?.message;
  return cause ? `${err.message}: ${cause}` : String(err?.message ?? e);
}

function normalizeEtag(e: string | undefined): string | undefined {
  if (!e) return undefined;
  const s = e.replace(/^W\//, '').replace(/^"|"$/g, '');
  return /^[A-Za-z0-9_.-]{1,200}$/.test(s) && s !== '.' && s !== '..' ? s : undefined;
}

/** An AbortController that fires after `ms` without {@link Stall.poke}. */
class Stall {
  readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly ms: number) { this.poke(); }
  poke(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.controller.abort(new Error(`no data for ${this.ms} ms`)), this.ms);
    this.timer.unref?.();
  }
  done(): void { clearTimeout(this.timer); }
}

function fileUrl(ctx: Ctx, commit: string, file: string): string {
  const f = file.split('/').map(encodeURIComponent).join('/');
  return `${ctx.endpoint}/${ctx.repoId}/resolve/${commit}/${f}`;
}

// ---------------------------------------------------------------------------------------------
// Download

/** Signals an interrupted transfer that a retry may resume. */
class Interrupted extends Error {}

/** The connection itself failed (refused, reset, DNS). */
class NetError extends HubError {}

/**
 * Downloads one file of the repo into `blobs/` (resumable, verified) and links it from the
 * snapshot. Returns when `snapshots/{commit}/{file}` exists.
 */
async function downloadFile(ctx: Ctx, repoDir: string, commit: string, file: string, opts: ResolveModelOptions): Promise<void> {
  const linkPath = path.join(repoDir, 'snapshots', commit, file);
  if (fs.existsSync(linkPath)) return;
  const blobsDir = path.join(repoDir, 'blobs');
  await fsp.mkdir(blobsDir, { recursive: true });
  // The partial file is named after commit + file, which fixes its content, so a later run can resume it.
  const partial = path.join(blobsDir, createHash('sha256').update(`${commit}/${file}`).digest('hex') + '.incomplete');
  const unlock = await acquireLock(`${partial}.lock`, partial, ctx.stallTimeoutMs);
  try {
    if (fs.existsSync(linkPath)) return; // another process finished it while we waited
    const retries = opts.retries ?? 2;
    for (let attempt = 0; ; attempt++) {
      try {
        const blob = await transfer(ctx, commit, file, partial, blobsDir, opts);
        await linkIntoSnapshot(blob, linkPath);
        return;
      } catch (e) {
        if (!(e instanceof Interrupted)) throw e;
        if (attempt >= retries) {
          throw new HubError(`download of '${file}' from '${ctx.repoId}' was interrupted (${e.message}); run again to resume`, { code: 'internal', cause: e });
        }
      }
    }
  } finally {
    await unlock();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Takes the lock file `lockPath` (created atomically, holding our pid), so that two downloads of
 * one file (other processes, or concurrent calls in this one) never write the same partial file.
 * Waits while the holder is alive and its partial file keeps growing; takes over the lock of a
 * process that died or made no progress for `stallMs`. Returns the release function.
 */
async function acquireLock(lockPath: string, partial: string, stallMs: number): Promise<() => Promise<void>> {
  let lastSize = -2;
  let lastChange = Date.now();
  for (;;) {
    const tmp = `${lockPath}.${process.pid}-${randomBytes(6).toString('hex')}`;
    await fsp.writeFile(tmp, String(process.pid));
    try {
      await fsp.link(tmp, lockPath);
      return () => fsp.rm(lockPath, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      await fsp.rm(tmp, { force: true });
    }
    let holder: number;
    try {
      holder = Number((await fsp.readFile(lockPath, 'utf8')).trim());
    } catch {
      continue; // released meanwhile
    }
    let alive = false;
    if (Number.isSafeInteger(holder) && holder > 0) {
      try {
        process.kill(holder, 0);
        alive = true;
      } catch (e) {
        alive = (e as NodeJS.ErrnoException).code === 'EPERM';
      }
    }
    let size = -1;
    try {
      size = (await fsp.stat(partial)).size;
    } catch { /* not started */ }
    if (size !== lastSize) {
      lastSize = size;
      lastChange = Date.now();
    }
    if (!alive || Date.now() - lastChange > stallMs) {
      await fsp.rm(lockPath, { force: true });
      continue;
    }
    await sleep(100);
  }
}

/** One attempt: fetches (the rest of) `file` into `partial`, verifies it, renames it to its blob. */
async function transfer(ctx: Ctx, commit: string, file: string, partial: string, blobsDir: string, opts: ResolveModelOptions): Promise<string> {
  let have = 0;
  try {
    have = (await fsp.stat(partial)).size;
  } catch { /* none yet */ }
  const stall = new Stall(ctx.stallTimeoutMs);
  try {
    const headers: Record<string, string> = have > 0 ? { range: `bytes=${have}-` } : {};
    let fetched: Fetched;
    try {
      fetched = await hubGet(ctx, fileUrl(ctx, commit, file), headers, stall.controller.signal,
        (etag) => fs.existsSync(path.join(blobsDir, etag)));
    } catch (e) {
      if (stall.controller.signal.aborted) throw new Interrupted(describe(stall.controller.signal.reason));
      if (e instanceof NetError) throw new Interrupted(e.message);
      throw e;
    }
    const { res } = fetched;
    if (fetched.reused) {
      await fsp.rm(partial, { force: true });
      return path.join(blobsDir, fetched.etag!);
    }
    let downloaded: number;
    let total: number | undefined;
    const range416 = res.status === 416 ? /^bytes \*\/(\d+)$/.exec(res.headers.get('content-range') ?? '') : null;
    if (res.status === 416 && range416 && Number(range416[1]) === have) {
      // The partial file is already complete (an earlier run stopped just before renaming it).
      await res.body?.cancel().catch(() => undefined);
      downloaded = total = have;
    } else if (res.status === 416) {
      // Our partial file does not fit the server's idea of the file: start over.
      await res.body?.cancel().catch(() => undefined);
      await fsp.rm(partial, { force: true });
      throw new Interrupted('server rejected the resume range; starting over');
    } else if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel().catch(() => undefined);
      throw statusError(ctx, res, `file '${file}'`);
    } else if (fetched.etag && fs.existsSync(path.join(blobsDir, fetched.etag))) {
      // This content is already in blobs/ (e.g. shared with another revision): reuse it.
      await res.body?.cancel().catch(() => undefined);
      await fsp.rm(partial, { force: true });
      return path.join(blobsDir, fetched.etag);
    } else {
      let start = 0;
      const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
      const len = res.headers.get('content-length');
      if (res.status === 206) {
        const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
        if (!m || Number(m[1]) !== have) {
          await res.body?.cancel().catch(() => undefined);
          await fsp.rm(partial, { force: true });
          throw new Interrupted(`server resumed at the wrong offset (${res.headers.get('content-range')}); starting over`);
        }
        start = have;
        if (m[3] !== '*') total = Number(m[3]);
      } else if (len !== null && !encoded) {
        total = Number(len);
      }
      total ??= fetched.linkedSize;
      downloaded = await receive(res, partial, start, file, total, stall, opts);
    }
    if (total !== undefined && downloaded !== total) {
      if (downloaded > total) {
        await fsp.rm(partial, { force: true });
        throw new HubError(`download of '${file}' from '${ctx.repoId}' got ${downloaded} bytes, more than the announced ${total}`, { code: 'internal' });
      }
      throw new Interrupted(`got ${downloaded} of ${total} bytes`);
    }

    if (fetched.linked && fetched.etag && /^[0-9a-f]{64}$/.test(fetched.etag)) {
      const actual = await sha256OfFile(partial);
      if (actual !== fetched.etag) {
        await fsp.rm(partial, { force: true });
        throw new HubError(`download of '${file}' from '${ctx.repoId}' is corrupt: sha256 ${actual}, expected ${fetched.etag}; run again`, { code: 'internal' });
      }
    }
    if (file.endsWith('.safetensors')) {
      try {
        readSafetensorsHeader(partial);
      } catch (e) {
        await fsp.rm(partial, { force: true });
        // The repository's file itself is broken (the bytes match what the hub announced): bad input.
        const problem = (e as Error).message.replace(`${partial}: `, '');
        throw new HubError(`'${file}' of '${ctx.repoId}' on the hub is not a valid safetensors file (${problem}); the download was deleted`, { cause: e });
      }
    }

    const blobName = fetched.etag ?? (await sha256OfFile(partial));
    const blob = path.join(blobsDir, blobName);
    await fsp.rename(partial, blob);
    return blob;
  } finally {
    stall.done();
  }
}

/**
 * Streams the response body into `partial` from byte `start` (truncating at 0, appending
 * otherwise), fsyncs it, and returns the file's size. A failing connection is {@link Interrupted};
 * a failing disk is a HubError.
 */
async function receive(
  res: Response, partial: string, start: number, file: string, total: number | undefined, stall: Stall, opts: ResolveModelOptions,
): Promise<number> {
  const diskError = (e: unknown) => new HubError(`cannot write ${partial}: ${describe(e)}`, { code: 'internal', cause: e });
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(partial, start === 0 ? 'w' : 'a');
  } catch (e) {
    throw diskError(e);
  }
  let downloaded = start;
  try {
    opts.onProgress?.({ file, downloaded, total });
    if (!res.body) return downloaded;
    const it = (res.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await it.next();
      } catch (e) {
        throw new Interrupted(stall.controller.signal.aborted ? describe(stall.controller.signal.reason) : describe(e));
      }
      if (next.done) break;
      stall.poke();
      const chunk = next.value;
      try {
        let off = 0;
        while (off < chunk.byteLength) off += (await fh.write(chunk, off, chunk.byteLength - off)).bytesWritten;
      } catch (e) {
        await it.return?.().catch(() => undefined);
        throw diskError(e);
      }
      downloaded += chunk.byteLength;
      opts.onProgress?.({ file, downloaded, total });
    }
    try {
      await fh.sync();
    } catch (e) {
      throw diskError(e);
    }
    return downloaded;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

async function sha256OfFile(p: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of fs.createReadStream(p)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Creates (or replaces) `linkPath` as a relative symlink to `blob`; copies where symlinks fail. */
async function linkIntoSnapshot(blob: string, linkPath: string): Promise<void> {
  await fsp.mkdir(path.dirname(linkPath), { recursive: true });
  const tmp = path.join(path.dirname(linkPath), `.${path.basename(linkPath)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  try {
    await fsp.symlink(path.relative(path.dirname(linkPath), blob), tmp);
  } catch {
    await fsp.copyFile(blob, tmp);
  }
  try {
    await fsp.rename(tmp, linkPath);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

interface RepoInfo {
  sha: string;
  files: Set<string>;
}

async function fetchRepoInfo(ctx: Ctx): Promise<RepoInfo> {
  const url = `${ctx.endpoint}/api/models/${ctx.repoId}/revision/${encodeURIComponent(ctx.revision)}`;
  const stall = new Stall(ctx.stallTimeoutMs);
  try {
    const { res } = await hubGet(ctx, url, { accept: 'application/json' }, stall.controller.signal);
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw statusError(ctx, res);
    }
    let json: unknown;
    try {
      json = await res.json();
    } catch (e) {
      throw new HubError(`the hub's answer about '${ctx.repoId}' is not valid JSON (${describe(e)})`, { code: 'internal' });
    }
    const info = json as { sha?: unknown; siblings?: unknown };
    if (typeof info?.sha !== 'string' || !COMMIT_RE.test(info.sha) || !Array.isArray(info.siblings)) {
      throw new HubError(`the hub's answer about '${ctx.repoId}' lacks a commit sha or a file list`, { code: 'internal' });
    }
    const files = new Set<string>();
    for (const s of info.siblings) {
      const name = (s as { rfilename?: unknown })?.rfilename;
      if (typeof name === 'string') files.add(name);
    }
    return { sha: info.sha, files };
  } catch (e) {
    // The model is neither a local directory nor cached, and the hub cannot be asked: to the
    // user this is an unknown model (exit 2), whatever the network's reason.
    if (e instanceof NetError) {
      throw new HubError(`model '${ctx.repoId}' is not a local directory nor in the Hugging Face cache, and ${e.message}`, { code: 'bad_input', cause: e });
    }
    if (stall.controller.signal.aborted && !(e instanceof HubError)) {
      throw new HubError(`the hub did not answer about '${ctx.repoId}' (${describe(stall.controller.signal.reason)})`, { code: 'internal' });
    }
    throw e;
  } finally {
    stall.done();
  }
}

function pytorchOnlyError(ctx: Ctx, files: Set<string>): HubError {
  const which = [...files].filter((f) => /^pytorch_model.*\.bin(\.index\.json)?$|^tf_model\.h5$|^flax_model\.msgpack$/.test(f));
  return new HubError(
    `model '${ctx.repoId}' (revision '${ctx.revision}') has no safetensors weights, only ${which.join(', ') || 'other formats'}; ` +
    `aigc reads safetensors only (it never loads pickled PyTorch files). Convert it once with Python:\n` +
    `  python -c "from transformers import AutoModelForCausalLM as M, AutoTokenizer as T; ` +
    `M.from_pretrained('${ctx.repoId}').save_pretrained('out', safe_serialization=True); T.from_pretrained('${ctx.repoId}').save_pretrained('out')"\n` +
    `and pass the directory 'out' to aigc; or open a conversion pull request on the hub ` +
    `(the 'safetensors/convert' space) and use its revision, e.g. '${ctx.repoId}@refs/pr/1'.`,
  );
}

/**
 * Downloads what aigc needs of a hub repo into the cache (see module documentation) and
 * returns the snapshot directory. Does not look in the cache first; {@link resolveModel} does.
 */
export async function downloadModel(model: ModelId, opts: ResolveModelOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const cacheDir = opts.cacheDir ?? hubCacheDir(env);
  const endpoint = (opts.endpoint ?? env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  try {
    new URL(endpoint);
  } catch {
    throw new HubError(`HF_ENDPOINT '${endpoint}' is not a valid URL`);
  }
  const ctx: Ctx = {
    repoId: model.repoId,
    revision: model.revision,
    endpoint,
    token: opts.token ?? (env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || undefined),
    stallTimeoutMs: opts.stallTimeoutMs ?? 60_000,
  };
  const info = await fetchRepoInfo(ctx);
  if (!info.files.has('config.json')) {
    throw new HubError(`model '${ctx.repoId}' has no config.json at revision '${ctx.revision}': it is not a transformers model aigc can load`);
  }
  const repoDir = path.join(cacheDir, repoFolderName(ctx.repoId));
  const snapDir = path.join(repoDir, 'snapshots', info.sha);

  const wanted: string[] = MODEL_FILES.filter((f) => info.files.has(f));
  let weights: string[];
  if (info.files.has(SAFETENSORS)) weights = [SAFETENSORS];
  else if (info.files.has(SAFETENSORS_INDEX)) {
    await downloadFile(ctx, repoDir, info.sha, SAFETENSORS_INDEX, opts);
    const indexPath = path.join(snapDir, SAFETENSORS_INDEX);
    let index: unknown;
    try {
      index = JSON.parse(await fsp.readFile(indexPath, 'utf8'));
    } catch (e) {
      throw new HubError(`${indexPath}: not valid JSON (${describe(e)})`, { code: 'internal' });
    }
    const shards = shardsOfIndex(index, indexPath);
    const missing = shards.filter((s) => !info.files.has(s));
    if (missing.length) throw new HubError(`model '${ctx.repoId}': ${SAFETENSORS_INDEX} lists shards the repo does not have: ${missing.join(', ')}`);
    weights = shards;
  } else {
    throw pytorchOnlyError(ctx, info.files);
  }
  for (const f of [...wanted, ...weights]) {
    if (!isSafeRelativePath(f)) throw new HubError(`model '${ctx.repoId}': refusing unsafe file name '${f}'`, { code: 'internal' });
    await downloadFile(ctx, repoDir, info.sha, f, opts);
  }
  if (model.revision !== info.sha) {
    const refPath = path.join(repoDir, 'refs', model.revision);
    await fsp.mkdir(path.dirname(refPath), { recursive: true });
    await writeFileAtomicAsync(refPath, info.sha);
  }
  return snapDir;
}

/**
 * Returns a local directory for `idOrPath`:
 * - an existing directory is returned as is (a leading `~/` is expanded);
 * - a hub id (`name`, `org/name`, optional `@revision`) is looked up in the cache (the id and its
 *   legacy/canonical alias, e.g. `gpt2` ↔ `openai-community/gpt2`) and downloaded when missing,
 *   unless offline. Only `config.json`, generation and tokenizer files, and safetensors weights
 *   are fetched.
 * Throws {@link HubError}: malformed id, path that does not exist, offline cache miss, model or
 * revision not found, gated/private repo without a valid token, PyTorch-only weights, or a
 * network / server failure (those with code `'internal'`).
 */
export async function resolveModel(idOrPath: string, opts: ResolveModelOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const local = idOrPath === '~' || idOrPath.startsWith('~/') ? path.join(os.homedir(), idOrPath.slice(1)) : idOrPath;
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(local);
  } catch { /* not a local path */ }
  if (stat?.isDirectory()) return local;
  if (stat) throw new HubError(`'${idOrPath}' is a file, not a model directory or hub id`);
  if (/^(\.{1,2}|~)?\//.test(idOrPath) || idOrPath.includes('\\') || idOrPath.split('/').length > 2) {
    throw new HubError(`model directory '${idOrPath}' does not exist (and it is not a hub id like 'org/name')`);
  }
  const model = parseModelId(idOrPath, opts.revision);
  const cacheDir = opts.cacheDir ?? hubCacheDir(env);
  const offline = opts.offline ?? truthy(env.HF_HUB_OFFLINE);
  const immutable = COMMIT_RE.test(model.revision);
  if (!opts.refresh || immutable || offline) {
    const cached = findCachedSnapshot(model.repoId, model.revision, cacheDir);
    if (cached) return cached;
  }
  if (offline) {
    throw new HubError(`model '${model.repoId}' (revision '${model.revision}') is not in the cache ${cacheDir} and offline mode is on (HF_HUB_OFFLINE); unset HF_HUB_OFFLINE to download it, or pass a local directory`);
  }
  return downloadModel(model, { ...opts, cacheDir, env });
}

// ---------------------------------------------------------------------------------------------
// Progress display

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/**
 * A progress callback drawing a one-line bar per file on stderr, e.g.
 * `model.safetensors [==========>         ]  52%  270.1/522.7 MiB`. Redraws at most ~10 times
 * a second. When `stream` is not a TTY (a log file, CI) it writes a plain line per quarter of
 * each file instead (`aigc: downloading model.safetensors: 50% of 522.7 MiB`).
 * @param stream where to draw; default `process.stderr`.
 */
export function stderrProgressBar(stream: NodeJS.WriteStream = process.stderr): (p: DownloadProgress) => void {
  if (!stream.isTTY) return progressLines(stream);
  let lastFile: string | undefined;
  let lastDraw = 0;
  const finished = new Set<string>();
  return (p) => {
    if (finished.has(p.file)) return;
    const complete = p.total !== undefined && p.downloaded >= p.total;
    const now = Date.now();
    if (!complete && p.file === lastFile && now - lastDraw < 100) return;
    if (lastFile !== undefined && p.file !== lastFile && !finished.has(lastFile)) stream.write('\n');
    lastFile = p.file;
    lastDraw = now;
    const width = 24;
    let line: string;
    if (p.total) {
      const frac = Math.min(1, p.downloaded / p.total);
      const fill = Math.round(frac * width);
      const bar = '='.repeat(Math.max(0, fill - 1)) + (fill > 0 ? (frac >= 1 ? '=' : '>') : '') + ' '.repeat(width - fill);
      line = `${p.file} [${bar}] ${String(Math.floor(frac * 100)).padStart(3)}%  ${fmtBytes(p.downloaded)}/${fmtBytes(p.total)}`;
    } else {
      line = `${p.file} ${fmtBytes(p.downloaded)}`;
    }
    const cols = stream.columns || 80;
    stream.write(`\r${line.slice(0, cols - 1).padEnd(Math.min(cols - 1, line.length + 2))}`);
    if (complete) {
      stream.write('\n');
      finished.add(p.file);
    }
  };
}

/** Plain progress lines for logs: each file's start, then every quarter (or 64 MiB without a size). */
function progressLines(stream: NodeJS.WritableStream): (p: DownloadProgress) => void {
  const shown = new Map<string, number>(); // file -> last step written
  return (p) => {
    const step = p.total ? Math.floor((4 * Math.min(p.downloaded, p.total)) / p.total) : Math.floor(p.downloaded / (64 << 20));
    const last = shown.get(p.file);
    if (last !== undefined && step <= last) return;
    shown.set(p.file, step);
    const what = p.total ? `${25 * step}% of ${fmtBytes(p.total)}` : fmtBytes(p.downloaded);
    stream.write(`aigc: downloading ${p.file}: ${what}\n`);
  };
}
