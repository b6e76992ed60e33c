/**
 * The text-generation library API:
 *
 *   const gen = await textGeneration('gpt2');
 *   const out = await gen('What is the capital of France?', { maxNewTokens: 100 });
 *   for await (const chunk of gen.stream('Once upon a time', { seed: 1 })) process.stdout.write(chunk);
 *   const reply = await gen.chat([{ role: 'user', content: 'Hi!' }]);
 *
 * `text` is the continuation only (the prompt is not repeated). Every option of
 * {@link GenerationOptions} is documented there with its default; the model's
 * generation_config.json supplies defaults for the ones it sets.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';
import { resolveModel, type DownloadProgress } from '../io/hub.js';
import { dialoGptTemplate, isDialoGpt, plainTemplate, type ChatMessage, type ChatTemplate } from './chat.js';
import { loadGpt2Checkpoint, type GenerationDefaults } from './checkpoint.js';
import { canBatchDecode, DecodeBatcher } from './generation/batcher.js';
import { generateTokens, type FinishReason, type GenerationRun } from './generation/generate.js';
import { resolveGenerationOptions, type GenerationOptions, type ResolvedGenerationOptions } from './generation/options.js';
import { StopStringMatcher } from './generation/stop-strings.js';
import { GPT2, type WeightDtype } from './gpt2.js';
import { ByteLevelBPETokenizer } from './tokenizer/bpe.js';

export type { ChatMessage } from './chat.js';
export type { GenerationOptions } from './generation/options.js';
export type { FinishReason } from './generation/generate.js';

/** Where the bundled default model lives (added by the release that ships one). */
export const DEFAULT_MODEL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models/text-default');

export interface TextGenerationLoadOptions {
  /** Weight format for inference: 'fp32' (exact), 'bf16' (half the memory, faster decode) or 'int8' (a quarter). bf16/int8 models are inference-only. Default 'fp32'. */
  dtype?: WeightDtype;
  /** Hub revision (branch, tag or commit). Default 'main'. */
  revision?: string;
  /** Hugging Face cache directory. Default: HF_HUB_CACHE / HF_HOME / ~/.cache/huggingface/hub. */
  cacheDir?: string;
  /** Never touch the network. Default: HF_HUB_OFFLINE. */
  offline?: boolean;
  /** Download progress. Default none. */
  onProgress?: (p: DownloadProgress) => void;
}

export interface TextGenerationTimings {
  /** Time to run the prompt through the model, ms. */
  prefillMs: number;
  /** Generated tokens per second after the prefill (all sequences together). */
  decodeTokensPerS: number;
}

export interface GeneratedSequence {
  text: string;
  tokens: number[];
  finishReason: FinishReason;
  /** Beam search score (length-penalised log-probability). */
  score?: number;
}

export interface TextGenerationOutput {
  /** The generated continuation (stop strings and EOS removed). */
  text: string;
  /** Generated token ids (an ending EOS included). */
  tokens: number[];
  /** Tokens in the prompt as the model saw it (after truncation). */
  promptTokens: number;
  /** Tokens generated (tokens.length). */
  completionTokens: number;
  /** 'eos': the model ended; 'length': maxNewTokens or the context window; 'stop': a stop string; 'abort': the signal fired. */
  finishReason: FinishReason;
  timings: TextGenerationTimings;
  /** All numReturnSequences outputs, best first for beam search; the first is the one above. */
  sequences: GeneratedSequence[];
}

/** A stream of text chunks; `result` resolves to the full output when the stream ends. */
export interface TextStream extends AsyncIterable<string> {
  readonly result: Promise<TextGenerationOutput>;
}

export interface TextGenerator {
  (prompt: string, opts?: GenerationOptions): Promise<TextGenerationOutput>;
  /** Streams the continuation of one prompt (the first sequence when numReturnSequences > 1; beam search streams the tokens all beams agree on, as they settle). Breaking out of the loop cancels generation. */
  stream(prompt: string, opts?: GenerationOptions): TextStream;
  /** Several prompts in one batch (left-padded); one output per prompt. */
  batch(prompts: string[], opts?: GenerationOptions): Promise<TextGenerationOutput[]>;
  /** The assistant's next turn for a conversation (see chat.ts for the templates). */
  chat(messages: readonly ChatMessage[], opts?: GenerationOptions): Promise<TextGenerationOutput>;
  streamChat(messages: readonly ChatMessage[], opts?: GenerationOptions): TextStream;
  /** Token ids of a prompt as this generator encodes it; `allowSpecial` as GenerationOptions.allowSpecial (default false). An empty text gives [BOS]. */
  encode(text: string, allowSpecial?: boolean): number[];
  readonly tokenizer: ByteLevelBPETokenizer;
  readonly model: GPT2;
  /** The local model directory. */
  readonly modelDir: string;
  readonly contextWindow: number;
  readonly chatTemplate: ChatTemplate;
  readonly generationDefaults: GenerationDefaults;
}

/**
 * Loads a GPT-2 model (hub id like 'gpt2' / 'openai-community/gpt2-medium', or a local
 * directory) and its tokenizer. Without a model, the bundled default under models/text-default.
 */
export async function textGeneration(model?: string, opts: TextGenerationLoadOptions = {}): Promise<TextGenerator> {
  let dir: string;
  if (model === undefined || model === '') {
    if (!fs.existsSync(path.join(DEFAULT_MODEL_DIR, 'config.json'))) {
      throw new ConfigError(`no model given and no bundled default model at ${DEFAULT_MODEL_DIR}; pass one, e.g. textGeneration('gpt2') or --model gpt2`);
    }
    dir = DEFAULT_MODEL_DIR;
  } else {
    dir = await resolveModel(model, { revision: opts.revision, cacheDir: opts.cacheDir, offline: opts.offline, onProgress: opts.onProgress });
  }
  const ckpt = loadGpt2Checkpoint(dir);
  // Generators pack the weights for inference as they load (row panels; bf16/int8 converted) and
  // keep no float32 parameters: gen.model cannot train. Load with GPT2.fromPretrained to train.
  const gpt2 = GPT2.fromCheckpoint(ckpt, { dtype: opts.dtype, inferenceOnly: true });
  const tokenizer = ByteLevelBPETokenizer.fromDirectory(dir);
  if (tokenizer.vocabSize > gpt2.config.vocabSize) {
    throw new ConfigError(`${dir}: the tokenizer has ${tokenizer.vocabSize} tokens but the model only ${gpt2.config.vocabSize}`);
  }
  const eos = tokenizer.eosTokenId ?? gpt2.config.eosTokenId;
  const template = isDialoGpt(`${model ?? ''} ${ckpt.name}`, ckpt.rawConfig) && eos !== null
    ? dialoGptTemplate({ encode: (t) => tokenizer.encode(t) }, eos)
    : plainTemplate({ encode: (t) => tokenizer.encode(t) });
  return makeGenerator(gpt2, tokenizer, dir, ckpt.generation, template);
}

/** A TextGenerator over an already loaded model and tokenizer. */
export function makeGenerator(
  model: GPT2, tokenizer: ByteLevelBPETokenizer, modelDir: string, defaults: GenerationDefaults = {}, template?: ChatTemplate,
): TextGenerator {
  const eos = tokenizer.eosTokenId ?? model.config.eosTokenId;
  const chatTemplate = template ?? plainTemplate({ encode: (t) => tokenizer.encode(t) });
  const encode = (text: string, allowSpecial = false): number[] => {
    const ids = tokenizer.encode(text, { allowedSpecial: allowSpecial ? 'all' : [] });
    if (ids.length > 0) return ids;
    const start = tokenizer.bosTokenId ?? eos; // an empty prompt starts from <|endoftext|>, as GPT-2 samples unconditionally
    if (start === null) throw new ConfigError('the prompt is empty and the tokenizer has no BOS/EOS token to start from');
    return [start];
  };
  const resolve = (o: GenerationOptions = {}) => resolveGenerationOptions(o, defaults, eos);
  // Concurrent calls on this generator (a server's requests) share decode steps.
  const batcher = canBatchDecode(model) ? new DecodeBatcher(model) : undefined;

  /** Runs generation on token prompts; streams row `streamRow`'s text through `emit`. */
  async function run(prompts: number[][], o: ResolvedGenerationOptions, emit?: (chunk: string) => void): Promise<TextGenerationOutput[]> {
    const n = o.numReturnSequences;
    const rows = prompts.length * n;
    const decoders = Array.from({ length: rows }, () => tokenizer.createStreamDecoder({ skipSpecialTokens: true }));
    const matchers = Array.from({ length: rows }, () => new StopStringMatcher(o.stop));
    const texts: string[] = new Array(rows).fill('');
    const onToken = (row: number, token: number): boolean => {
      const { text, stopped } = matchers[row].push(decoders[row].push(token));
      texts[row] += text;
      if (row === 0 && text) emit?.(text);
      return stopped;
    };
    const result: GenerationRun = await generateTokens(model, prompts, o, onToken, batcher);
    const decodeS = result.decodeMs / 1000;
    const timings = { prefillMs: result.prefillMs, decodeTokensPerS: decodeS > 0 ? result.decodeTokens / decodeS : 0 };
    return result.outputs.map((seqs, p) => {
      const sequences: GeneratedSequence[] = seqs.map((s, k) => {
        const row = p * n + k;
        let text = texts[row];
        if (!matchers[row].stopped) {
          const { text: tail } = matchers[row].push(decoders[row].flush());
          const rest = tail + matchers[row].flush();
          text += rest;
          if (row === 0 && rest) emit?.(rest);
        }
        return { text, tokens: s.tokens, finishReason: s.finishReason, ...(s.score !== undefined ? { score: s.score } : {}) };
      });
      const first = sequences[0];
      return {
        text: first.text, tokens: first.tokens, promptTokens: result.prompts[p].length, completionTokens: first.tokens.length,
        finishReason: first.finishReason, timings, sequences,
      };
    });
  }

  /** Streams run() of one prompt; breaking out of the loop aborts generation. */
  function streamOf(prompt: () => number[], o: GenerationOptions, clean?: (s: string) => string): TextStream {
    const queue: string[] = [];
    let wake = null as (() => void) | null;
    const notify = () => { const w = wake; wake = null; w?.(); };
    let finished = false;
    const inner = new AbortController();
    const outer = o.signal;
    const onOuterAbort = () => inner.abort();
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    if (outer?.aborted) inner.abort();
    const result = (async () => {
      try {
        const out = (await run([prompt()], resolve({ ...o, signal: inner.signal }), (chunk) => { queue.push(chunk); notify(); }))[0];
        return clean ? { ...out, text: clean(out.text) } : out;
      } finally {
        finished = true;
        outer?.removeEventListener('abort', onOuterAbort);
        notify();
      }
    })();
    result.catch(() => undefined); // surfaced through the iterator or `result`
    return {
      result,
      [Symbol.asyncIterator]: () => ({
        async next(): Promise<IteratorResult<string>> {
          for (;;) {
            if (queue.length) return { value: queue.shift()!, done: false };
            if (finished) {
              await result; // rethrows a generation error
              return { value: undefined, done: true };
            }
            await new Promise<void>((r) => { wake = r; });
          }
        },
        async return(): Promise<IteratorResult<string>> {
          inner.abort();
          await result.catch(() => undefined);
          return { value: undefined, done: true };
        },
      }),
    };
  }

  const chatOptions = (o: GenerationOptions): GenerationOptions => ({ ...o, stop: [...(o.stop ?? []), ...chatTemplate.stop] });
  const chatPrompt = (messages: readonly ChatMessage[], o: GenerationOptions): number[] => {
    const maxNew = resolve(o).maxNewTokens;
    const budget = model.config.nPositions - Math.min(maxNew, model.config.nPositions - 1);
    return chatTemplate.render(messages, budget);
  };

  const gen = (async (prompt: string, o: GenerationOptions = {}) => (await run([encode(prompt, o.allowSpecial)], resolve(o)))[0]) as TextGenerator;
  Object.defineProperties(gen, {
    stream: { value: (prompt: string, o: GenerationOptions = {}) => streamOf(() => encode(prompt, o.allowSpecial), o) },
    batch: { value: async (prompts: string[], o: GenerationOptions = {}) => {
      if (!Array.isArray(prompts) || prompts.length === 0) throw new ConfigError('batch: give at least one prompt');
      return run(prompts.map((p) => encode(p, o.allowSpecial)), resolve(o));
    } },
    chat: { value: async (messages: readonly ChatMessage[], o: GenerationOptions = {}) => {
      const out = (await run([chatPrompt(messages, o)], resolve(chatOptions(o))))[0];
      return { ...out, text: chatTemplate.clean(out.text) };
    } },
    streamChat: { value: (messages: readonly ChatMessage[], o: GenerationOptions = {}) => {
      return streamOf(() => chatPrompt(messages, o), chatOptions(o), chatTemplate.clean);
    } },
    encode: { value: encode },
    tokenizer: { value: tokenizer },
    model: { value: model },
    modelDir: { value: modelDir },
    contextWindow: { value: model.config.nPositions },
    chatTemplate: { value: chatTemplate },
    generationDefaults: { value: defaults },
  });
  return gen;
}
