/** What every route needs: the models, the store, the queues and the server's settings. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';
import type { ImageModelInfo, ModelInfo, ModelProvider, TextModelInfo } from './models.js';
import { Scheduler } from './scheduler.js';
import type { Store } from './db.js';
import type { UrlSigner } from './security.js';
import type { JobManager } from './jobs.js';

export interface QueueLimits {
  /** Generations that run at once per model (they interleave token by token in its worker). */
  concurrency: number;
  /** Requests that may wait per model before the server answers 429. */
  maxQueue: number;
}

export class ServerContext {
  private readonly schedulers = new Map<string, Scheduler>();

  constructor(
    readonly provider: ModelProvider,
    readonly store: Store,
    readonly signer: UrlSigner,
    readonly jobs: JobManager,
    readonly text: QueueLimits,
    readonly image: QueueLimits,
    readonly startedAt = Date.now(),
  ) {}

  scheduler(model: ModelInfo): Scheduler {
    let s = this.schedulers.get(model.id);
    if (!s) {
      const lim = model.kind === 'text' ? this.text : this.image;
      s = new Scheduler(model.id, lim.concurrency, lim.maxQueue);
      this.schedulers.set(model.id, s);
    }
    return s;
  }

  queueStats(): Record<string, Scheduler['stats']> {
    return Object.fromEntries([...this.schedulers].map(([k, v]) => [k, v.stats]));
  }

  textModel(id: string | undefined): TextModelInfo {
    return this.model(id, 'text') as TextModelInfo;
  }

  imageModel(id: string | undefined): ImageModelInfo {
    return this.model(id, 'image') as ImageModelInfo;
  }

  private model(id: string | undefined, kind: 'text' | 'image'): ModelInfo {
    const all = this.provider.models();
    if (id === undefined || id === '' || id === 'default') {
      const m = all.find((x) => x.kind === kind);
      if (!m) throw new ApiError(404, `This server has no ${kind} model loaded`, 'invalid_request_error', 'model_not_found', 'model');
      return m;
    }
    const m = all.find((x) => x.id === id);
    if (!m) throw new ApiError(404, `The model '${id}' does not exist`, 'invalid_request_error', 'model_not_found', 'model');
    if (m.kind !== kind) throw new ApiError(400, `The model '${id}' is an ${m.kind} model; this endpoint needs a ${kind} model`, 'invalid_request_error', 'model_kind_mismatch', 'model');
    return m;
  }
}

/**
 * An AbortSignal that fires when the client goes away before the response is complete
 * (both plain and hijacked/streaming replies).
 */
export function clientSignal(request: FastifyRequest, reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  const onClose = () => { if (!reply.raw.writableFinished) ac.abort(); };
  reply.raw.once('close', onClose);
  request.raw.once('aborted', () => ac.abort());
  return ac.signal;
}

/** The origin a client used to reach the server (for absolute image URLs). */
export function originOf(request: FastifyRequest): string {
  const host = request.headers.host && /^[\w.\-[\]:]+$/.test(request.headers.host) ? request.headers.host : `${request.hostname}`;
  return `${request.protocol}://${host}`;
}
