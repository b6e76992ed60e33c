/**
 * POST /v1/images/generations (OpenAI shape, plus `seed`), POST /v1/images/interpolations
 * (aigc: a latent walk between two seeds), GET /v1/images/files/:id (the PNGs behind `url`).
 * Every image is stored in the data directory with its metadata, which is also written into
 * the PNG's tEXt chunks. Files are addressed by id only: the path is derived from a validated id.
 */
import { randomInt } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import sharp from 'sharp';
import { Store } from '../db.js';
import { badRequest, notFound } from '../errors.js';
import type { GeneratedImage, ImageModelInfo } from '../models.js';
import { clientSignal, originOf, type ServerContext } from '../context.js';
import { parseLabel, parseSize } from '../prompt.js';
import { withPngText } from '../png.js';

const MAX_EDGE = 1024;

const generationSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['prompt'],
  properties: {
    prompt: { type: 'string', maxLength: 4000 },
    model: { anyOf: [{ type: 'string', maxLength: 256 }, { type: 'null' }] },
    n: { anyOf: [{ type: 'integer', minimum: 1, maximum: 16 }, { type: 'null' }] },
    size: { anyOf: [{ type: 'string', maxLength: 16 }, { type: 'null' }] },
    response_format: { anyOf: [{ type: 'string', enum: ['url', 'b64_json'] }, { type: 'null' }] },
    seed: { anyOf: [{ type: 'integer', minimum: 0, maximum: 2 ** 31 - 1 }, { type: 'null' }] },
    label: { anyOf: [{ type: 'string', maxLength: 64 }, { type: 'null' }] },
    truncation: { anyOf: [{ type: 'number', exclusiveMinimum: 0, maximum: 4 }, { type: 'null' }] },
    quality: { anyOf: [{ type: 'string', enum: ['standard', 'auto'] }, { type: 'null' }] },
    output_format: { anyOf: [{ type: 'string', enum: ['png'] }, { type: 'null' }] },
    user: { type: 'string', maxLength: 256 },
    stream: { anyOf: [{ type: 'boolean' }, { type: 'null' }] },
  },
};

const interpolationSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['seed_a', 'seed_b'],
  properties: {
    model: { anyOf: [{ type: 'string', maxLength: 256 }, { type: 'null' }] },
    prompt: { type: 'string', maxLength: 4000 },
    seed_a: { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1 },
    seed_b: { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1 },
    steps: { type: 'integer', minimum: 2, maximum: 16 },
    label: { anyOf: [{ type: 'string', maxLength: 64 }, { type: 'null' }] },
    size: { anyOf: [{ type: 'string', maxLength: 16 }, { type: 'null' }] },
    response_format: { anyOf: [{ type: 'string', enum: ['url', 'b64_json'] }, { type: 'null' }] },
  },
};

type GenerationBody = { stream?: boolean | null; prompt: string; model?: string | null; n?: number | null; size?: string | null; response_format?: 'url' | 'b64_json' | null; seed?: number | null; label?: string | null; truncation?: number | null };
type InterpolationBody = { model?: string | null; prompt?: string; seed_a: number; seed_b: number; steps?: number; label?: string | null; size?: string | null; response_format?: 'url' | 'b64_json' | null };

/** The output edge: the model's own size or a whole multiple of it (nearest-neighbour upscaling). */
function outputEdge(size: string | null | undefined, model: ImageModelInfo): number {
  const native = model.imageSize;
  if (!size || size === 'auto') return native;
  const s = parseSize(size);
  const allowed = [1, 2, 4, 8, 16].map((k) => native * k).filter((e) => e <= MAX_EDGE);
  if (!s || s.w !== s.h || !allowed.includes(s.w)) {
    throw badRequest(`size ${JSON.stringify(size)} is not available for ${model.id}; choose one of ${allowed.map((e) => `${e}x${e}`).join(', ')}`, 'size', 'invalid_size');
  }
  return s.w;
}

function resolveLabel(model: ImageModelInfo, explicit: string | null | undefined, prompt: string): string | null {
  if (!model.labels) {
    if (explicit) throw badRequest(`${model.id} is unconditional: it has no classes`, 'label');
    return null;
  }
  if (explicit) {
    if (!model.labels.includes(explicit)) throw badRequest(`label ${JSON.stringify(explicit)} is not a class of ${model.id}; classes: ${model.labels.join(', ')}`, 'label');
    return explicit;
  }
  return parseLabel(prompt, model.labels);
}

export function registerImageRoutes(app: FastifyInstance, ctx: ServerContext): void {
  async function store(req: FastifyRequest, model: ImageModelInfo, imgs: GeneratedImage[], edge: number, prompt: string, format: 'url' | 'b64_json', extra: Record<string, unknown>) {
    const created = Math.floor(Date.now() / 1000);
    const data = [];
    for (const img of imgs) {
      let png = img.png;
      if (edge !== model.imageSize) png = await sharp(png).resize(edge, edge, { kernel: 'nearest' }).png().toBuffer();
      const meta = { model: model.id, prompt, seed: img.seed, label: img.label, size: `${edge}x${edge}`, ...extra };
      png = withPngText(png, { Software: 'aigc', Description: prompt, 'aigc:parameters': JSON.stringify(meta) });
      const id = Store.newImageId();
      await writeFile(ctx.store.imagePath(id), png);
      ctx.store.addImage({ id, model: model.id, prompt, seed: img.seed, label: img.label, width: edge, height: edge, params: JSON.stringify(extra), job_id: null });
      const item: Record<string, unknown> = { revised_prompt: img.label !== null ? `${prompt} [class ${img.label}]` : prompt, seed: img.seed, label: img.label, id };
      if (format === 'b64_json') item.b64_json = png.toString('base64');
      else item.url = signedImageUrl(ctx, req, id);
      data.push(item);
    }
    return { created, data };
  }

  app.post('/v1/images/generations', { schema: { body: generationSchema } }, async (req, reply) => {
    const body = req.body as GenerationBody;
    if (body.stream) throw badRequest('streaming image generation is not supported (a GAN draws an image in one step)', 'stream', 'unsupported_parameter');
    const model = ctx.imageModel(body.model ?? undefined);
    const edge = outputEdge(body.size, model);
    const label = resolveLabel(model, body.label, body.prompt);
    const seed = body.seed ?? randomInt(0, 2 ** 31 - 1);
    const n = body.n ?? 1;
    const signal = clientSignal(req, reply);
    const imgs = await ctx.scheduler(model).run(signal, () => ctx.provider.generateImages(model.id, { count: n, seed, label, truncation: body.truncation ?? undefined }, signal));
    return store(req, model, imgs, edge, body.prompt, body.response_format ?? 'url', { truncation: body.truncation ?? null });
  });

  app.post('/v1/images/interpolations', { schema: { body: interpolationSchema } }, async (req, reply) => {
    const body = req.body as InterpolationBody;
    const model = ctx.imageModel(body.model ?? undefined);
    const edge = outputEdge(body.size, model);
    const prompt = body.prompt ?? '';
    const label = resolveLabel(model, body.label, prompt);
    const signal = clientSignal(req, reply);
    const imgs = await ctx.scheduler(model).run(signal, () => ctx.provider.interpolate(model.id, { seedA: body.seed_a, seedB: body.seed_b, steps: body.steps ?? 8, label }, signal));
    return store(req, model, imgs, edge, prompt, body.response_format ?? 'url', { interpolation: { seed_a: body.seed_a, seed_b: body.seed_b, steps: body.steps ?? 8 } });
  });

  app.get('/v1/images/files/:id', { schema: { params: { type: 'object', properties: { id: { type: 'string', pattern: '^img_[0-9a-f]{32}(\\.png)?$' } } } } }, async (req, reply) => {
    const id = (req.params as { id: string }).id.replace(/\.png$/, '');
    const row = ctx.store.getImage(id);
    if (!row) throw notFound(`No image ${id}`);
    const png = await readFile(ctx.store.imagePath(id)).catch(() => null);
    if (!png) throw notFound(`The file of image ${id} is gone`);
    const q = req.query as { download?: string };
    reply.header('cache-control', 'private, max-age=3600');
    if (q.download !== undefined) reply.header('content-disposition', `attachment; filename="${id}.png"`);
    return reply.type('image/png').send(png);
  });
}

export function signedImageUrl(ctx: ServerContext, req: FastifyRequest, id: string): string {
  const { exp, sig } = ctx.signer.sign(id);
  return `${originOf(req)}/v1/images/files/${id}.png?exp=${exp}&sig=${sig}`;
}

/** A signed path (no origin), for the studio. */
export function signedImagePath(ctx: ServerContext, id: string): string {
  const { exp, sig } = ctx.signer.sign(id);
  return `/v1/images/files/${id}.png?exp=${exp}&sig=${sig}`;
}
