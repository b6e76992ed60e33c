/**
 * The HTTP application (fastify): OpenAI-compatible /v1 routes, training jobs, the studio's /api
 * and its static files, with API-key auth, rate limits, a body limit and OpenAI error objects.
 */
import { existsSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import { ApiError, errorBody, toApiError } from './errors.js';
import { AbortedError, type ModelProvider } from './models.js';
import { ServerContext, type QueueLimits } from './context.js';
import type { Store } from './db.js';
import { JobManager } from './jobs.js';
import { hashApiKey, matchApiKey, UrlSigner } from './security.js';
import { registerTextRoutes } from './routes/text.js';
import { registerImageRoutes } from './routes/images.js';
import { registerTrainingRoutes } from './routes/training.js';
import { registerStudioRoutes } from './routes/studio.js';

const LOOPBACK_HOSTS = new Set(['localhost', '::1', '127.0.0.1']);

export interface AppOptions {
  provider: ModelProvider;
  store: Store;
  /** True when API keys are configured (their hashes are in the store). */
  auth: boolean;
  encryptHistory?: boolean;
  text?: Partial<QueueLimits>;
  image?: Partial<QueueLimits>;
  /** Requests per minute per client (API key, else IP); 0 turns the limit off. */
  rateLimit?: number;
  /** Largest request body in bytes (larger: 413). */
  bodyLimit?: number;
  /** The built studio (index.html and assets); null: no studio. */
  webRoot?: string | null;
  logger?: boolean;
}

export interface App {
  app: FastifyInstance;
  ctx: ServerContext;
}

/** The key a request presents: `Authorization: Bearer KEY`, or Basic auth with the key as password (the studio in a browser). */
function presentedKey(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^(Bearer|Basic)\s+(.+)$/i.exec(h.trim());
  if (!m) return null;
  if (m[1].toLowerCase() === 'bearer') return m[2].trim();
  const decoded = Buffer.from(m[2], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : decoded;
}

export async function buildApp(opts: AppOptions): Promise<App> {
  const app = Fastify({
    logger: opts.logger ? { level: 'info' } : false,
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    // No silent coercion or stripping: a wrong type or an unknown field is a 400.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
    return503OnClosing: true,
    // Open SSE streams (job events, chats) must not hold a shutdown open.
    forceCloseConnections: true,
    requestTimeout: 0,
  });
  const store = opts.store;
  const signer = new UrlSigner(store.secret());
  const jobs = new JobManager(store, () => opts.provider);
  const ctx = new ServerContext(
    opts.provider, store, signer, jobs,
    { concurrency: opts.text?.concurrency ?? 4, maxQueue: opts.text?.maxQueue ?? 16 },
    { concurrency: opts.image?.concurrency ?? 2, maxQueue: opts.image?.maxQueue ?? 8 },
  );
  let keyHashes = store.apiKeyHashes();
  // JSON only: other bodies are a 415, not a string that fails validation.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof AbortedError) {
      // The client is gone; nothing to tell it.
      return reply.code(499).send(errorBody(new ApiError(499, 'client closed request')));
    }
    const e = toApiError(err);
    if (e.status >= 500) req.log.error({ err }, 'request failed');
    for (const [k, v] of Object.entries(e.headers)) reply.header(k, v);
    return reply.code(e.status).send(errorBody(e));
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(errorBody(new ApiError(404, `Unknown route ${req.method} ${req.url.split('?')[0]}`, 'invalid_request_error', 'unknown_url')));
  });

  if (opts.rateLimit !== 0) {
    await app.register(rateLimit, {
      max: opts.rateLimit ?? 600,
      timeWindow: 60_000,
      keyGenerator: (req) => {
        // A valid key has its own budget; anything else (no key, a wrong one) counts against the IP.
        const k = presentedKey(req);
        return k && opts.auth && matchApiKey(k, keyHashes) ? `key:${hashApiKey(k).slice(0, 16)}` : `ip:${req.ip}`;
      },
      errorResponseBuilder: (_req, c) => new ApiError(429, `Rate limit reached: ${c.max} requests per ${c.after}; retry after ${c.after}`, 'rate_limit_error', 'rate_limit_exceeded', null, {}) as unknown as object,
    });
  }

  // Auth: with keys configured, every request needs one (a signed image URL is the exception:
  // the signature itself is the capability, as with OpenAI's own image URLs).
  app.addHook('onRequest', async (req, reply) => {
    if (!opts.auth) {
      // Loopback without keys: refuse Host names other than loopback ones, so a web page whose
      // DNS name is rebound to 127.0.0.1 cannot use the server from the user's browser.
      const host = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase();
      if (!LOOPBACK_HOSTS.has(host) && !/^127\.\d+\.\d+\.\d+$/.test(host)) {
        reply.code(403).send(errorBody(new ApiError(403, `Host ${JSON.stringify(req.headers.host ?? '')} is not a loopback name; without API keys this server answers only http://127.0.0.1 or http://localhost`, 'invalid_request_error', 'forbidden_host')));
        return reply;
      }
      return;
    }
    const key = presentedKey(req);
    if (key !== null && matchApiKey(key, keyHashes)) return;
    const url = new URL(req.url, 'http://x');
    const file = /^\/v1\/images\/files\/(img_[0-9a-f]{32})(\.png)?$/.exec(url.pathname);
    if (file && req.method === 'GET' && signer.verify(file[1], Number(url.searchParams.get('exp')), url.searchParams.get('sig') ?? '')) return;
    const api = url.pathname.startsWith('/v1/') || url.pathname === '/health';
    reply.header('www-authenticate', api ? 'Bearer realm="aigc"' : 'Basic realm="aigc studio: any user name, your API key as password", charset="UTF-8"');
    reply.code(401).send(errorBody(new ApiError(401, key === null ? 'Missing API key: send Authorization: Bearer <key>' : 'Incorrect API key provided', 'invalid_request_error', 'invalid_api_key')));
    return reply;
  });

  app.get('/health', async () => ({
    status: 'ok',
    uptime_s: Math.round((Date.now() - ctx.startedAt) / 1000),
    models: opts.provider.models().map((m) => m.id),
    queues: ctx.queueStats(),
  }));

  app.get('/v1/models', async () => ({
    object: 'list',
    data: opts.provider.models().map((m) => ({ ...m, object: 'model', created: Math.floor(ctx.startedAt / 1000), owned_by: 'aigc' })),
  }));
  // Hub ids have a slash ("openai-community/gpt2").
  app.get('/v1/models/*', async (req) => {
    const id = decodeURIComponent((req.params as { '*': string })['*']);
    const m = opts.provider.models().find((x) => x.id === id);
    if (!m) throw new ApiError(404, `The model '${id}' does not exist`, 'invalid_request_error', 'model_not_found', 'model');
    return { ...m, object: 'model', created: Math.floor(ctx.startedAt / 1000), owned_by: 'aigc' };
  });

  registerTextRoutes(app, ctx);
  registerImageRoutes(app, ctx);
  registerTrainingRoutes(app, ctx);
  registerStudioRoutes(app, ctx, { auth: opts.auth, encryptHistory: !!opts.encryptHistory });

  if (opts.webRoot && existsSync(opts.webRoot)) {
    await app.register(fastifyStatic, { root: opts.webRoot, prefix: '/', index: ['index.html'], dotfiles: 'deny', serveDotFiles: false, wildcard: true });
  } else {
    app.get('/', async (_req, reply) => reply.type('text/html').send('<!doctype html><title>aigc</title><p>The aigc studio is not built: run <code>npm run build</code>. The API is at <code>/v1</code>.</p>'));
  }

  app.addHook('onClose', async () => { jobs.close(); });
  // Keys may be re-synced by the caller (tests); keep the hook's copy current.
  app.decorate('reloadKeys', () => { keyHashes = store.apiKeyHashes(); });
  return { app, ctx };
}
