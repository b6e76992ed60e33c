/** The studio's own API (history of conversations and images, server facts) under /api. */
import type { FastifyInstance } from 'fastify';
import { notFound } from '../errors.js';
import type { ServerContext } from '../context.js';
import { signedImagePath } from './images.js';
import { VERSION } from '../../version.js';

const convParams = { type: 'object', properties: { id: { type: 'string', pattern: '^conv_[0-9a-f]{32}$' } } };
const message = {
  type: 'object', additionalProperties: false, required: ['role', 'content'],
  properties: { role: { type: 'string', enum: ['system', 'user', 'assistant'] }, content: { type: 'string', maxLength: 200_000 }, meta: { type: 'object' } },
};

export function registerStudioRoutes(app: FastifyInstance, ctx: ServerContext, facts: { auth: boolean; encryptHistory: boolean }): void {
  app.get('/api/info', async () => ({
    version: VERSION, auth: facts.auth, encrypt_history: facts.encryptHistory,
    models: ctx.provider.models(),
  }));

  app.get('/api/conversations', async () => ({ data: ctx.store.listConversations() }));

  app.post('/api/conversations', {
    schema: { body: { type: 'object', additionalProperties: false, required: ['title', 'model'], properties: { title: { type: 'string', maxLength: 500 }, model: { type: 'string', maxLength: 256 } } } },
  }, async (req, reply) => {
    const b = req.body as { title: string; model: string };
    return reply.code(201).send(ctx.store.createConversation(b.title, b.model));
  });

  app.get('/api/conversations/:id', { schema: { params: convParams } }, async (req) => {
    const c = ctx.store.getConversation((req.params as { id: string }).id);
    if (!c) throw notFound('No such conversation');
    return c;
  });

  app.delete('/api/conversations/:id', { schema: { params: convParams } }, async (req) => {
    if (!ctx.store.deleteConversation((req.params as { id: string }).id)) throw notFound('No such conversation');
    return { deleted: true };
  });

  app.post('/api/conversations/:id/messages', {
    schema: { params: convParams, body: { type: 'object', additionalProperties: false, required: ['messages'], properties: { messages: { type: 'array', minItems: 1, maxItems: 50, items: message } } } },
  }, async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const out = ctx.store.addMessages(id, (req.body as { messages: { role: string; content: string; meta?: Record<string, unknown> }[] }).messages);
    if (out.length === 0) throw notFound('No such conversation');
    return reply.code(201).send({ data: out });
  });

  app.get('/api/images', async (req) => {
    const limit = Math.min(500, Math.max(1, Number((req.query as { limit?: string }).limit ?? 100) || 100));
    return {
      data: ctx.store.listImages(limit).map((r) => ({
        id: r.id, model: r.model, prompt: r.prompt, seed: r.seed, label: r.label, width: r.width, height: r.height,
        params: JSON.parse(r.params) as unknown, created_at: r.created_at, url: signedImagePath(ctx, r.id),
      })),
    };
  });
}
