/** POST /v1/completions and /v1/chat/completions in OpenAI's request and response shapes. */
import { randomBytes, randomInt } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, badRequest, errorBody, toApiError } from '../errors.js';
import type { ChatMessage, TextInput, TextModelInfo, TextParams, TextResult } from '../models.js';
import { AbortedError } from '../models.js';
import { clientSignal, type ServerContext } from '../context.js';
import { SseStream } from '../sse.js';

const stopSchema = { anyOf: [{ type: 'string', minLength: 1, maxLength: 200 }, { type: 'array', maxItems: 4, items: { type: 'string', minLength: 1, maxLength: 200 } }, { type: 'null' }] };

const common = {
  model: { type: 'string', minLength: 1, maxLength: 256 },
  max_tokens: { anyOf: [{ type: 'integer', minimum: 1, maximum: 65536 }, { type: 'null' }] },
  temperature: { anyOf: [{ type: 'number', minimum: 0, maximum: 2 }, { type: 'null' }] },
  top_p: { anyOf: [{ type: 'number', exclusiveMinimum: 0, maximum: 1 }, { type: 'null' }] },
  n: { anyOf: [{ type: 'integer', minimum: 1, maximum: 8 }, { type: 'null' }] },
  stop: stopSchema,
  seed: { anyOf: [{ type: 'integer', minimum: -9007199254740991, maximum: 9007199254740991 }, { type: 'null' }] },
  presence_penalty: { anyOf: [{ type: 'number', minimum: -2, maximum: 2 }, { type: 'null' }] },
  frequency_penalty: { anyOf: [{ type: 'number', minimum: -2, maximum: 2 }, { type: 'null' }] },
  stream: { anyOf: [{ type: 'boolean' }, { type: 'null' }] },
  stream_options: { anyOf: [{ type: 'object', additionalProperties: false, properties: { include_usage: { type: 'boolean' }, include_obfuscation: { type: 'boolean' } } }, { type: 'null' }] },
  user: { type: 'string', maxLength: 256 },
  logprobs: { anyOf: [{ type: 'boolean' }, { type: 'integer' }, { type: 'null' }] },
  logit_bias: { anyOf: [{ type: 'object' }, { type: 'null' }] },
};

const completionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['model', 'prompt'],
  properties: {
    ...common,
    prompt: { anyOf: [{ type: 'string', maxLength: 100_000 }, { type: 'array', minItems: 1, maxItems: 8, items: { type: 'string', maxLength: 100_000 } }] },
    echo: { anyOf: [{ type: 'boolean' }, { type: 'null' }] },
    best_of: { anyOf: [{ type: 'integer', minimum: 1, maximum: 8 }, { type: 'null' }] },
    suffix: { anyOf: [{ type: 'string' }, { type: 'null' }] },
  },
};

const contentPart = { type: 'object', required: ['type'], properties: { type: { type: 'string' }, text: { type: 'string' } } };
const chatSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['model', 'messages'],
  properties: {
    ...common,
    max_completion_tokens: { anyOf: [{ type: 'integer', minimum: 1, maximum: 65536 }, { type: 'null' }] },
    messages: {
      type: 'array', minItems: 1, maxItems: 500,
      items: {
        type: 'object', required: ['role', 'content'],
        properties: {
          role: { type: 'string', enum: ['system', 'developer', 'user', 'assistant'] },
          content: { anyOf: [{ type: 'string', maxLength: 100_000 }, { type: 'array', maxItems: 64, items: contentPart }, { type: 'null' }] },
          name: { type: 'string', maxLength: 64 },
        },
      },
    },
    top_logprobs: { anyOf: [{ type: 'integer' }, { type: 'null' }] },
    response_format: { anyOf: [{ type: 'object', required: ['type'], properties: { type: { type: 'string' } } }, { type: 'null' }] },
    tools: { type: 'array' },
    tool_choice: {},
    parallel_tool_calls: {},
    functions: { type: 'array' },
    function_call: {},
    metadata: { type: 'object' },
    store: { anyOf: [{ type: 'boolean' }, { type: 'null' }] },
  },
};

type Common = {
  model: string; max_tokens?: number | null; temperature?: number | null; top_p?: number | null; n?: number | null;
  stop?: string | string[] | null; seed?: number | null; presence_penalty?: number | null; frequency_penalty?: number | null;
  stream?: boolean | null; stream_options?: { include_usage?: boolean } | null; user?: string; logprobs?: boolean | number | null;
  logit_bias?: Record<string, number> | null;
};
type CompletionBody = Common & { prompt: string | string[]; echo?: boolean | null; best_of?: number | null; suffix?: string | null };
type ChatBody = Common & {
  max_completion_tokens?: number | null;
  messages: { role: string; content: string | { type: string; text?: string }[] | null; name?: string }[];
  top_logprobs?: number | null; response_format?: { type: string } | null; tools?: unknown[]; tool_choice?: unknown; functions?: unknown[]; function_call?: unknown;
};

const DEFAULT_CHAT_MAX_TOKENS = 256;

/** Options every implementation of the API would honour, or a 400 for the ones aigc cannot honour. */
function textParams(body: Common, model: TextModelInfo, maxTokens: number | null | undefined, defaultMax: number): TextParams {
  if (body.presence_penalty) throw badRequest('presence_penalty is not supported: aigc has no additive presence penalty (send 0 or omit it)', 'presence_penalty', 'unsupported_parameter');
  if (body.frequency_penalty) throw badRequest('frequency_penalty is not supported: aigc has no additive frequency penalty (send 0 or omit it)', 'frequency_penalty', 'unsupported_parameter');
  if (body.logprobs) throw badRequest('logprobs are not supported', 'logprobs', 'unsupported_parameter');
  if (body.logit_bias && Object.keys(body.logit_bias).length > 0) throw badRequest('logit_bias is not supported', 'logit_bias', 'unsupported_parameter');
  const max = maxTokens ?? Math.min(defaultMax, model.contextLength);
  if (max > model.contextLength) throw badRequest(`max_tokens ${max} is more than the model's context length (${model.contextLength})`, 'max_tokens', 'context_length_exceeded');
  const stop = body.stop == null ? [] : Array.isArray(body.stop) ? body.stop : [body.stop];
  return {
    maxTokens: max,
    temperature: body.temperature ?? 1,
    topP: body.top_p ?? 1,
    // Any integer seed (OpenAI allows negative ones) maps onto the sampler's 32-bit seeds.
    seed: body.seed == null ? randomInt(0, 2 ** 31) : ((body.seed % 2 ** 32) + 2 ** 32) % 2 ** 32,
    stop,
  };
}

function chatMessages(body: ChatBody): ChatMessage[] {
  if (body.tools?.length || body.functions?.length || (body.tool_choice !== undefined && body.tool_choice !== 'none')) throw badRequest('tools and function calling are not supported by this model', 'tools', 'unsupported_parameter');
  if (body.response_format && body.response_format.type !== 'text') throw badRequest(`response_format ${body.response_format.type} is not supported (only "text")`, 'response_format', 'unsupported_parameter');
  return body.messages.map((m, i) => {
    let content: string;
    if (typeof m.content === 'string') content = m.content;
    else if (m.content === null) content = '';
    else {
      const bad = m.content.find((p) => p.type !== 'text' || typeof p.text !== 'string');
      if (bad) throw badRequest(`messages[${i}].content: only text parts are supported (got "${bad.type}")`, `messages.${i}.content`);
      content = m.content.map((p) => p.text).join('');
    }
    const role = m.role === 'developer' ? 'system' : (m.role as ChatMessage['role']);
    return { role, content };
  });
}

const newId = (prefix: string) => `${prefix}-${randomBytes(12).toString('base64url')}`;
const usageOf = (rs: TextResult[]) => {
  const prompt = rs[0]?.promptTokens ?? 0;
  const completion = rs.reduce((a, r) => a + r.completionTokens, 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
};

/** Runs n generations (seed, seed+1, ...) for one input inside the model's queue slot. */
async function runChoices(ctx: ServerContext, model: TextModelInfo, inputs: TextInput[], n: number, params: TextParams, signal: AbortSignal,
  onDelta: ((index: number, text: string) => void) | null, onChoiceDone: ((index: number, r: TextResult) => void) | null): Promise<TextResult[]> {
  return ctx.scheduler(model).run(signal, async () => {
    const out: TextResult[] = [];
    let index = 0;
    for (const input of inputs) {
      for (let k = 0; k < n; k++, index++) {
        const i = index;
        const r = await ctx.provider.generateText(model.id, input, { ...params, seed: (params.seed + i) % 2 ** 32 }, onDelta ? (t) => onDelta(i, t) : null, signal);
        out.push(r);
        onChoiceDone?.(i, r);
        if (signal.aborted) throw new AbortedError();
      }
    }
    return out;
  });
}

async function streamResponse(ctx: ServerContext, req: FastifyRequest, reply: FastifyReply, model: TextModelInfo, inputs: TextInput[], n: number, params: TextParams,
  includeUsage: boolean, chunk: (choice: Record<string, unknown> | null, usage?: Record<string, number>) => Record<string, unknown>, chat: boolean): Promise<void> {
  const signal = clientSignal(req, reply);
  // Admission first: a full queue is a plain 429 response, not a stream.
  let sse: SseStream | null = null;
  const open = () => {
    if (!sse) {
      sse = new SseStream(reply);
      if (chat) for (let i = 0; i < inputs.length * n; i++) sse.send(chunk({ index: i, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }));
    }
    return sse;
  };
  try {
    const results = await runChoices(ctx, model, inputs, n, params, signal,
      (i, t) => open().send(chunk(chat ? { index: i, delta: { content: t }, logprobs: null, finish_reason: null } : { index: i, text: t, logprobs: null, finish_reason: null })),
      (i, r) => open().send(chunk(chat ? { index: i, delta: {}, logprobs: null, finish_reason: r.finishReason } : { index: i, text: '', logprobs: null, finish_reason: r.finishReason })));
    const s = open();
    if (includeUsage) s.send(chunk(null, usageOf(results)));
    s.send('[DONE]');
    s.end();
  } catch (e) {
    if (!sse) throw e; // nothing sent yet: an ordinary error response (a 499 when the client left)
    if (e instanceof AbortedError || signal.aborted) { (sse as SseStream).end(); return; }
    const err = toApiError(e);
    req.log.error({ err: e }, 'stream failed');
    (sse as SseStream).send(errorBody(err));
    (sse as SseStream).end();
  }
}

export function registerTextRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/v1/completions', { schema: { body: completionSchema } }, async (req, reply) => {
    const body = req.body as CompletionBody;
    const model = ctx.textModel(body.model);
    if (body.suffix) throw badRequest('suffix is not supported', 'suffix', 'unsupported_parameter');
    if (body.best_of != null && body.best_of !== (body.n ?? 1)) throw badRequest('best_of is not supported (omit it or set it equal to n)', 'best_of', 'unsupported_parameter');
    const params = textParams(body, model, body.max_tokens, 16);
    const prompts = Array.isArray(body.prompt) ? body.prompt : [body.prompt];
    const inputs: TextInput[] = prompts.map((p) => ({ prompt: p }));
    const n = body.n ?? 1;
    const id = newId('cmpl');
    const created = Math.floor(Date.now() / 1000);
    if (body.stream) {
      if (body.echo) throw badRequest('echo is not supported with stream', 'echo', 'unsupported_parameter');
      const chunk = (choice: Record<string, unknown> | null, usage?: Record<string, number>) => ({ id, object: 'text_completion', created, model: model.id, system_fingerprint: 'aigc', choices: choice ? [choice] : [], ...(usage ? { usage } : {}) });
      await streamResponse(ctx, req, reply, model, inputs, n, params, !!body.stream_options?.include_usage, chunk, false);
      return reply;
    }
    const signal = clientSignal(req, reply);
    const results = await runChoices(ctx, model, inputs, n, params, signal, null, null);
    const usage = usageOf(results);
    // Several prompts: usage counts every prompt.
    usage.prompt_tokens = results.filter((_, i) => i % n === 0).reduce((a, r) => a + r.promptTokens, 0);
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    return {
      id, object: 'text_completion', created, model: model.id, system_fingerprint: 'aigc',
      choices: results.map((r, i) => ({ text: (body.echo ? prompts[Math.floor(i / n)] : '') + r.text, index: i, logprobs: null, finish_reason: r.finishReason })),
      usage,
    };
  });

  app.post('/v1/chat/completions', { schema: { body: chatSchema } }, async (req, reply) => {
    const body = req.body as ChatBody;
    const model = ctx.textModel(body.model);
    const messages = chatMessages(body);
    if (body.top_logprobs) throw badRequest('top_logprobs is not supported', 'top_logprobs', 'unsupported_parameter');
    const params = textParams(body, model, body.max_completion_tokens ?? body.max_tokens, DEFAULT_CHAT_MAX_TOKENS);
    const n = body.n ?? 1;
    const id = newId('chatcmpl');
    const created = Math.floor(Date.now() / 1000);
    const inputs: TextInput[] = [{ messages }];
    if (body.stream) {
      const chunk = (choice: Record<string, unknown> | null, usage?: Record<string, number>) => ({ id, object: 'chat.completion.chunk', created, model: model.id, system_fingerprint: 'aigc', choices: choice ? [choice] : [], ...(usage ? { usage } : {}) });
      await streamResponse(ctx, req, reply, model, inputs, n, params, !!body.stream_options?.include_usage, chunk, true);
      return reply;
    }
    const signal = clientSignal(req, reply);
    const results = await runChoices(ctx, model, inputs, n, params, signal, null, null);
    return {
      id, object: 'chat.completion', created, model: model.id, system_fingerprint: 'aigc',
      choices: results.map((r, i) => ({ index: i, message: { role: 'assistant', content: r.text, refusal: null }, logprobs: null, finish_reason: r.finishReason })),
      usage: usageOf(results),
    };
  });
}

export { ApiError };
