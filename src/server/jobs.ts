/**
 * Training jobs: created queued, run one at a time in a training worker, cancelled on request.
 * Progress (step, losses, sample grids) is stored as job events and pushed to subscribers
 * (the SSE route). A restart marks unfinished jobs failed (see Store).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Store, type JobRow } from './db.js';
import { ApiError } from './errors.js';
import type { ModelProvider, TrainingKind, TrainingProgress } from './models.js';
import { AbortedError } from './models.js';
import { withPngText } from './png.js';

export type JobEvent =
  | { type: 'status'; job: JobView }
  | { type: 'progress'; seq: number; step: number; total_steps: number; losses: Record<string, number>; sample_image_id: string | null };

export interface JobView {
  id: string;
  object: 'training.job';
  kind: string;
  status: string;
  params: Record<string, unknown>;
  progress: { step?: number; total_steps?: number; losses?: Record<string, number> };
  error: string | null;
  /** The trained model's directory name under the data directory's jobs/ (never an absolute path). */
  result_model: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

export function jobView(r: JobRow): JobView {
  return {
    id: r.id, object: 'training.job', kind: r.kind, status: r.status,
    params: JSON.parse(r.params) as Record<string, unknown>,
    progress: JSON.parse(r.progress) as JobView['progress'],
    error: r.error, result_model: r.model_dir ? path.basename(r.model_dir) : null,
    created_at: r.created_at, started_at: r.started_at, finished_at: r.finished_at,
  };
}

/** Training jobs that may wait behind the running one. */
export const MAX_QUEUED_JOBS = 16;

const FINAL = new Set(['succeeded', 'failed', 'cancelled']);
export const isFinal = (status: string) => FINAL.has(status);

export class JobManager {
  private readonly queue: string[] = [];
  private readonly controllers = new Map<string, AbortController>();
  private readonly subscribers = new Map<string, Set<(e: JobEvent) => void>>();
  private running: string | null = null;
  private closed = false;

  constructor(private readonly store: Store, private readonly provider: () => ModelProvider) {}

  create(kind: TrainingKind, params: Record<string, unknown>): JobView {
    if (this.queue.length >= MAX_QUEUED_JOBS) {
      throw new ApiError(429, `${this.queue.length} training jobs are already waiting; retry when one has finished`, 'rate_limit_error', 'server_busy', null, { 'retry-after': '60' });
    }
    const row = this.store.createJob(kind, params);
    this.queue.push(row.id);
    queueMicrotask(() => this.pump());
    return jobView(row);
  }

  get(id: string): JobView | undefined {
    const r = this.store.getJob(id);
    return r ? jobView(r) : undefined;
  }

  list(): JobView[] {
    return this.store.listJobs().map(jobView);
  }

  cancel(id: string): JobView | undefined {
    const r = this.store.getJob(id);
    if (!r) return undefined;
    if (r.status === 'queued') {
      const i = this.queue.indexOf(id);
      if (i >= 0) this.queue.splice(i, 1);
      this.finish(id, 'cancelled', null);
    } else if (r.status === 'running') {
      this.store.updateJob(id, { status: 'cancelling' });
      this.emit(id, { type: 'status', job: this.get(id)! });
      this.controllers.get(id)?.abort();
    }
    return this.get(id);
  }

  subscribe(id: string, fn: (e: JobEvent) => void): () => void {
    let set = this.subscribers.get(id);
    if (!set) this.subscribers.set(id, (set = new Set()));
    set.add(fn);
    return () => { set.delete(fn); };
  }

  private emit(id: string, e: JobEvent): void {
    for (const fn of this.subscribers.get(id) ?? []) fn(e);
  }

  private finish(id: string, status: 'succeeded' | 'failed' | 'cancelled', error: string | null, modelDir?: string): void {
    this.store.updateJob(id, { status, error, finished_at: Date.now(), ...(modelDir ? { model_dir: modelDir } : {}) });
    this.emit(id, { type: 'status', job: this.get(id)! });
  }

  private pump(): void {
    if (this.running || this.closed) return;
    const id = this.queue.shift();
    if (!id) return;
    this.running = id;
    void this.runJob(id).finally(() => {
      this.running = null;
      this.pump();
    });
  }

  private async runJob(id: string): Promise<void> {
    const row = this.store.getJob(id)!;
    const ac = new AbortController();
    this.controllers.set(id, ac);
    const outputDir = path.join(this.store.jobsDir, id);
    this.store.updateJob(id, { status: 'running', started_at: Date.now() });
    this.emit(id, { type: 'status', job: this.get(id)! });
    // Progress events are written in order even though sample PNGs are written asynchronously.
    let chain: Promise<void> = Promise.resolve();
    const onProgress = (p: TrainingProgress) => {
      chain = chain.then(async () => {
        let sampleId: string | null = null;
        if (p.sample) {
          sampleId = Store.newImageId();
          const png = withPngText(p.sample, { Software: 'aigc', Description: `training sample, ${id}, step ${p.step}` });
          await writeFile(this.store.imagePath(sampleId), png);
          this.store.addImage({ id: sampleId, model: `training:${id}`, prompt: `sample at step ${p.step}`, seed: 0, label: null, width: 0, height: 0, params: JSON.stringify({ step: p.step }), job_id: id });
        }
        const seq = this.store.addJobEvent(id, p.step, p.losses, sampleId);
        this.store.updateJob(id, { progress: JSON.stringify({ step: p.step, total_steps: p.totalSteps, losses: p.losses }) });
        this.emit(id, { type: 'progress', seq, step: p.step, total_steps: p.totalSteps, losses: p.losses, sample_image_id: sampleId });
      }).catch(() => {});
    };
    try {
      const r = await this.provider().train({ kind: row.kind as TrainingKind, outputDir, params: JSON.parse(row.params) as Record<string, unknown> }, { onProgress }, ac.signal);
      await chain;
      this.finish(id, 'succeeded', null, r.modelDir);
    } catch (e) {
      await chain;
      if (e instanceof AbortedError || ac.signal.aborted) this.finish(id, 'cancelled', null);
      else this.finish(id, 'failed', e instanceof Error ? e.message : String(e));
    } finally {
      this.controllers.delete(id);
    }
  }

  /** Cancels everything (server shutdown). */
  close(): void {
    this.closed = true;
    for (const ac of this.controllers.values()) ac.abort();
  }
}
