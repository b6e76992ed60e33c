/** Training jobs: POST/GET /v1/training/jobs, GET/cancel one, its progress as SSE, its sample images. */
import type { FastifyInstance } from 'fastify';
import { badRequest, notFound } from '../errors.js';
import type { ServerContext } from '../context.js';
import { isFinal, type JobEvent } from '../jobs.js';
import { SseStream } from '../sse.js';
import { signedImagePath } from './images.js';

const createSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['kind'],
  properties: {
    kind: { type: 'string', enum: ['image', 'text'] },
    // image models
    preset: { type: 'string', enum: ['seed64', 'dcgan28', 'dcgan32', 'dcgan64'] },
    dataset: { type: 'string', enum: ['mnist'] },
    conditional: { type: 'boolean' },
    // text models
    base_model: { type: 'string', maxLength: 256 },
    text: { type: 'string', maxLength: 2_000_000 },
    block_size: { type: 'integer', minimum: 8, maximum: 1024 },
    // both
    steps: { type: 'integer', minimum: 1, maximum: 100_000 },
    batch_size: { type: 'integer', minimum: 1, maximum: 512 },
    learning_rate: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
    seed: { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1 },
    sample_every: { type: 'integer', minimum: 1, maximum: 100_000 },
  },
};

const idParams = { type: 'object', properties: { id: { type: 'string', pattern: '^job_[0-9a-f]{32}$' } } };

export function registerTrainingRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/v1/training/jobs', { schema: { body: createSchema } }, async (req, reply) => {
    const body = req.body as Record<string, unknown> & { kind: 'image' | 'text' };
    if (body.kind === 'text' && typeof body.text !== 'string') throw badRequest('a text training job needs `text`: the corpus to train on', 'text');
    if (body.kind === 'image' && (body.text !== undefined || body.base_model !== undefined)) throw badRequest('text and base_model belong to text training jobs', body.text !== undefined ? 'text' : 'base_model');
    if (body.kind === 'text' && typeof body.base_model === 'string') ctx.textModel(body.base_model); // 404 for an unknown model
    const { kind, ...params } = body;
    const job = ctx.jobs.create(kind, params);
    return reply.code(201).send(job);
  });

  app.get('/v1/training/jobs', async () => ({ object: 'list', data: ctx.jobs.list() }));

  app.get('/v1/training/jobs/:id', { schema: { params: idParams } }, async (req) => {
    const job = ctx.jobs.get((req.params as { id: string }).id);
    if (!job) throw notFound('No such training job');
    return job;
  });

  app.post('/v1/training/jobs/:id/cancel', { schema: { params: idParams } }, async (req) => {
    const job = ctx.jobs.cancel((req.params as { id: string }).id);
    if (!job) throw notFound('No such training job');
    return job;
  });

  app.get('/v1/training/jobs/:id/images', { schema: { params: idParams } }, async (req) => {
    const id = (req.params as { id: string }).id;
    if (!ctx.jobs.get(id)) throw notFound('No such training job');
    return { object: 'list', data: ctx.store.listImages(500, id).map((r) => ({ id: r.id, prompt: r.prompt, created_at: r.created_at, url: signedImagePath(ctx, r.id) })) };
  });

  /** SSE: the stored events first (from ?after=SEQ), then live ones, until the job ends. */
  app.get('/v1/training/jobs/:id/events', { schema: { params: idParams } }, async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const job = ctx.jobs.get(id);
    if (!job) throw notFound('No such training job');
    const after = Number((req.query as { after?: string }).after ?? 0) || 0;
    const sse = new SseStream(reply);
    const withUrl = (e: JobEvent) => (e.type === 'progress' && e.sample_image_id ? { ...e, sample_url: signedImagePath(ctx, e.sample_image_id) } : e);
    let last = after;
    const unsubscribe = ctx.jobs.subscribe(id, (e) => {
      if (e.type === 'progress') { if (e.seq <= last) return; last = e.seq; }
      sse.send(withUrl(e));
      if (e.type === 'status' && isFinal(e.job.status)) { sse.send('[DONE]'); sse.end(); unsubscribe(); }
    });
    sse.send({ type: 'status', job });
    for (const ev of ctx.store.jobEvents(id, after)) {
      last = Math.max(last, ev.seq);
      sse.send(withUrl({ type: 'progress', seq: ev.seq, step: ev.step, total_steps: job.progress.total_steps ?? 0, losses: ev.losses, sample_image_id: ev.sampleImageId }));
    }
    if (isFinal(job.status)) { sse.send('[DONE]'); sse.end(); unsubscribe(); return reply; }
    const ping = setInterval(() => sse.ping(), 15_000);
    reply.raw.on('close', () => { clearInterval(ping); unsubscribe(); });
    return reply;
  });
}
