/** `startServer`: the data directory, keys, models and HTTP app put together (used by `aigc serve`). */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';
import { buildApp, type App } from './app.js';
import { Store } from './db.js';
import type { ModelProvider } from './models.js';
import { collectApiKeys, hashApiKey, HistoryCipher, parseHistoryKey } from './security.js';
import { WorkerModelProvider } from './worker-provider.js';

export interface ServeOptions {
  host?: string;
  port?: number;
  textModels?: string[];
  imageModels?: string[];
  dataDir?: string;
  apiKeys?: string[];
  encryptHistory?: boolean;
  rateLimit?: number;
  bodyLimit?: number;
  concurrency?: number;
  queue?: number;
  logger?: boolean;
  env?: NodeJS.ProcessEnv;
  log?: (msg: string) => void;
  /** Tests: a provider instead of the worker-thread one. */
  provider?: ModelProvider;
}

export interface RunningServer extends App {
  url: string;
  store: Store;
  provider: ModelProvider;
  close(): Promise<void>;
}

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.AIGC_DATA_DIR) return env.AIGC_DATA_DIR;
  const base = env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(base, 'aigc');
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The built studio: dist/web beside the compiled server, or the build when running from source. */
export function defaultWebRoot(): string {
  const here = fileURLToPath(import.meta.url);
  return here.endsWith('.ts') ? path.resolve(path.dirname(here), '../../dist/web') : path.resolve(path.dirname(here), '../web');
}

export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const env = o.env ?? process.env;
  const log = o.log ?? ((m: string) => process.stderr.write(`aigc serve: ${m}\n`));
  const host = o.host ?? '127.0.0.1';
  const port = o.port ?? 8080;
  const keys = collectApiKeys(o.apiKeys ?? [], env.AIGC_API_KEYS);
  if (keys.length === 0 && !isLoopback(host)) {
    throw new ConfigError(`refusing to listen on ${host} without API keys: pass --api-key KEY (or set AIGC_API_KEYS), or listen on 127.0.0.1`);
  }
  const cipher = o.encryptHistory || env.AIGC_HISTORY_KEY ? new HistoryCipher(parseHistoryKey(env.AIGC_HISTORY_KEY)) : null;
  const dataDir = path.resolve(o.dataDir ?? defaultDataDir(env));
  const store = new Store(dataDir, cipher, !!o.encryptHistory);
  let provider: ModelProvider | undefined = o.provider;
  try {
    store.syncConfigKeys(keys.map(hashApiKey));
    provider ??= await WorkerModelProvider.start({ textModels: o.textModels ?? [], imageModels: o.imageModels ?? [], log });
    const built = await buildApp({
      provider, store, auth: keys.length > 0, encryptHistory: !!o.encryptHistory,
      text: { concurrency: o.concurrency, maxQueue: o.queue },
      rateLimit: o.rateLimit, bodyLimit: o.bodyLimit, webRoot: defaultWebRoot(), logger: o.logger,
    });
    const addr = await built.app.listen({ host, port });
    const url = addr.replace('[::1]', 'localhost');
    log(`listening on ${url} (data in ${dataDir})`);
    log(keys.length ? `API keys required (${keys.length} configured)` : 'no API keys configured: listening on loopback only, every local user can use this server');
    if (o.encryptHistory) log('conversation history is encrypted at rest (AES-256-GCM)');
    const p = provider;
    return {
      ...built, url, store, provider: p,
      async close() {
        await built.app.close();
        await p.close();
        store.close();
      },
    };
  } catch (e) {
    if (provider && !o.provider) await provider.close();
    store.close();
    throw e;
  }
}
