/**
 * The real ModelProvider: one worker thread per model, loaded once at start and shared by every
 * request for it; one worker thread per training job.
 *
 * Worker files are compiled JavaScript: from dist/ this module finds them beside itself; when it
 * runs from source (vitest transpiles src/ but not worker threads) it uses the build in
 * dist/server/worker/, so `npm run build` must have run (tests do it in their setup).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AigcError, ConfigError } from '../errors.js';
import { ApiError } from './errors.js';
import type { GeneratedImage, ImageModelInfo, ImageRequest, InterpolateRequest, ModelInfo, ModelProvider, TextInput, TextModelInfo, TextParams, TextResult, TrainingHooks, TrainingSpec } from './models.js';
import { AbortedError } from './models.js';
import { DEFAULT_MODEL_DIR } from '../text/pipeline.js';
import type { FromInference, FromTraining, InferenceWorkerData, ToInference, TrainingWorkerData } from './worker/protocol.js';

export function workerFile(name: 'inference-worker' | 'training-worker'): URL {
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new URL(`../../dist/server/worker/${name}.js`, here);
  return new URL(`./worker/${name}.js`, here);
}

/** The public id of a model given as an id or a directory: a directory's name, never its path. */
export function modelIdFor(spec: string | undefined, kind: 'text' | 'image'): string {
  if (!spec) return `${kind}-default`;
  const looksLikePath = existsSync(spec) || spec.startsWith('.') || spec.startsWith('/') || (spec.includes(path.sep) && !/^[\w.-]+\/[\w.-]+$/.test(spec));
  return looksLikePath ? path.basename(path.resolve(spec)) : spec;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

interface Pending {
  resolve: (m: FromInference & { t: 'done' }) => void;
  reject: (e: unknown) => void;
  onDelta: ((t: string) => void) | null;
}

class ModelWorker {
  private worker!: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  info!: TextModelInfo | ImageModelInfo;

  constructor(private readonly data: InferenceWorkerData) {}

  get spec(): string | undefined {
    return this.data.spec;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const w = new Worker(workerFile('inference-worker'), { workerData: this.data });
      this.worker = w;
      let ready = false;
      w.on('message', (m: FromInference) => {
        if (m.t === 'ready') { ready = true; this.info = m.info; resolve(); return; }
        if (m.t === 'fatal') { reject(new ConfigError(`cannot load ${this.data.kind} model ${this.data.spec ?? '(default)'}: ${m.message}`)); void w.terminate(); return; }
        const p = this.pending.get(m.id);
        if (!p) return;
        if (m.t === 'delta') p.onDelta?.(m.text);
        else if (m.t === 'done') { this.pending.delete(m.id); p.resolve(m); }
        else if (m.t === 'error') {
          this.pending.delete(m.id);
          p.reject(m.aborted ? new AbortedError() : m.badInput ? new ApiError(400, m.message) : new AigcError(m.message, { code: 'internal' }));
        }
      });
      const fail = (why: string) => {
        if (!ready) reject(new ConfigError(`the ${this.data.kind} model worker stopped while loading: ${why}`));
        for (const p of this.pending.values()) p.reject(new ApiError(500, `the model worker stopped: ${why}`));
        this.pending.clear();
        this.dead = true;
      };
      w.on('error', (e) => fail(e.message));
      w.on('exit', (code) => { if (!this.closing) fail(`exit code ${code}`); });
    });
  }

  private dead = false;
  private closing = false;

  async request(msg: DistributiveOmit<Exclude<ToInference, { t: 'cancel' }>, 'id'>, onDelta: ((t: string) => void) | null, signal: AbortSignal): Promise<FromInference & { t: 'done' }> {
    if (signal.aborted) throw new AbortedError();
    if (this.dead) { this.dead = false; await this.start(); }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onAbort = () => this.worker.postMessage({ t: 'cancel', id } satisfies ToInference);
      signal.addEventListener('abort', onAbort, { once: true });
      const done = () => signal.removeEventListener('abort', onAbort);
      this.pending.set(id, {
        resolve: (m) => { done(); resolve(m); },
        reject: (e) => { done(); reject(e); },
        onDelta,
      });
      this.worker.postMessage({ ...msg, id } as ToInference);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
  }
}

export interface WorkerProviderOptions {
  /** Text models (ids or directories); empty: the default text model, if it loads. */
  textModels: string[];
  imageModels: string[];
  log?: (msg: string) => void;
}

export class WorkerModelProvider implements ModelProvider {
  private readonly workers = new Map<string, ModelWorker>();
  private readonly trainers = new Set<Worker>();

  private constructor() {}

  static async start(opts: WorkerProviderOptions): Promise<WorkerModelProvider> {
    const p = new WorkerModelProvider();
    const log = opts.log ?? (() => {});
    const specs: { kind: 'text' | 'image'; spec: string | undefined; optional: boolean }[] = [
      ...(opts.textModels.length ? opts.textModels.map((s) => ({ kind: 'text' as const, spec: s, optional: false })) : [{ kind: 'text' as const, spec: undefined, optional: true }]),
      ...(opts.imageModels.length ? opts.imageModels.map((s) => ({ kind: 'image' as const, spec: s, optional: false })) : [{ kind: 'image' as const, spec: undefined, optional: true }]),
    ];
    try {
      // Load one after another: two cores, and each load is CPU-bound.
      for (const s of specs) {
        const id = modelIdFor(s.spec, s.kind);
        if (p.workers.has(id)) throw new ConfigError(`two models have the id "${id}"; rename one directory`);
        const w = new ModelWorker({ kind: s.kind, id, spec: s.spec });
        try {
          await w.start();
          p.workers.set(id, w);
          log(`loaded ${s.kind} model ${id}`);
        } catch (e) {
          if (!s.optional) throw e;
          log(`no default ${s.kind} model (${e instanceof Error ? e.message : String(e)}); serving without one`);
        }
      }
    } catch (e) {
      await p.close();
      throw e;
    }
    return p;
  }

  models(): ModelInfo[] {
    return [...this.workers.values()].map((w) => w.info);
  }

  private worker(id: string): ModelWorker {
    const w = this.workers.get(id);
    if (!w) throw new ApiError(404, `The model '${id}' does not exist`, 'invalid_request_error', 'model_not_found', 'model');
    return w;
  }

  async generateText(modelId: string, input: TextInput, params: TextParams, onDelta: ((text: string) => void) | null, signal: AbortSignal): Promise<TextResult> {
    const r = await this.worker(modelId).request({ t: 'text', input, params, stream: onDelta !== null }, onDelta, signal);
    return r.text!;
  }

  async generateImages(modelId: string, req: ImageRequest, signal: AbortSignal): Promise<GeneratedImage[]> {
    const r = await this.worker(modelId).request({ t: 'images', req }, null, signal);
    return r.images!.map((i) => ({ ...i, png: Buffer.from(i.png) }));
  }

  async interpolate(modelId: string, req: InterpolateRequest, signal: AbortSignal): Promise<GeneratedImage[]> {
    const r = await this.worker(modelId).request({ t: 'interpolate', req }, null, signal);
    return r.images!.map((i) => ({ ...i, png: Buffer.from(i.png) }));
  }

  train(spec: TrainingSpec, hooks: TrainingHooks, signal: AbortSignal): Promise<{ modelDir: string }> {
    if (spec.kind === 'text' && typeof spec.params.base_model === 'string') {
      // The trainer needs the base model's directory or hub id, not the server's public id.
      const w = this.worker(spec.params.base_model);
      spec = { ...spec, params: { ...spec.params, base_model_spec: w.spec ?? DEFAULT_MODEL_DIR } };
    }
    return new Promise((resolve, reject) => {
      if (signal.aborted) { reject(new AbortedError()); return; }
      const w = new Worker(workerFile('training-worker'), { workerData: { spec } satisfies TrainingWorkerData });
      this.trainers.add(w);
      let settled = false;
      let killTimer: NodeJS.Timeout | undefined;
      const onAbort = () => {
        w.postMessage({ t: 'cancel' });
        // A trainer that does not stop at its next step is terminated.
        killTimer = setTimeout(() => void w.terminate(), 10_000);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const finish = (f: () => void) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        clearTimeout(killTimer);
        f();
      };
      w.on('message', (m: FromTraining) => {
        if (m.t === 'progress') hooks.onProgress({ ...m.p, sample: m.p.sample ? Buffer.from(m.p.sample) : undefined });
        else if (m.t === 'done') finish(() => resolve({ modelDir: m.modelDir }));
        else finish(() => reject(m.aborted ? new AbortedError() : m.badInput ? new ApiError(400, m.message) : new AigcError(m.message, { code: 'internal' })));
      });
      w.on('error', (e) => finish(() => reject(e)));
      w.on('exit', () => {
        this.trainers.delete(w);
        finish(() => reject(signal.aborted ? new AbortedError() : new AigcError('the training worker stopped unexpectedly', { code: 'internal' })));
      });
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => w.close()));
    await Promise.all([...this.trainers].map((w) => w.terminate()));
    this.workers.clear();
  }
}
