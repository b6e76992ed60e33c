/**
 * The only place the server touches the text and image pipelines (src/text/pipeline.ts,
 * src/image/pipeline.ts, training). Runs inside worker threads.
 */
import type { ChatMessage, GeneratedImage, ImageModelInfo, ImageRequest, InterpolateRequest, TextInput, TextModelInfo, TextParams, TextResult, TrainingProgress, TrainingSpec } from '../models.js';
import { StopFilter } from '../prompt.js';

// ---- the pipelines' shapes, as the server uses them ----------------------------------------

interface GenOptions {
  maxNewTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  doSample?: boolean;
  seed?: number;
  stop?: string[];
  signal?: AbortSignal;
  truncate?: boolean;
}

interface GenResult {
  text: string;
  promptTokens: number;
  completionTokens: number;
  finishReason: 'stop' | 'length' | 'eos' | 'abort';
}

interface TextGenerator {
  (prompt: string, opts?: GenOptions): Promise<GenResult>;
  stream(prompt: string, opts?: GenOptions): AsyncIterable<string>;
  chat(messages: ChatMessage[], opts?: GenOptions): Promise<GenResult>;
  tokenizer: { encode(text: string): number[] };
  [k: string]: unknown;
}

interface ImageGenerator {
  labels: string[] | null;
  imageSize: number;
  channels: number;
  generate(o: { count: number; seed: number; label?: string | null; truncation?: number }): Promise<{ png: Buffer | Uint8Array; seed: number; label: string | null }[]>;
  interpolate(o: { seedA: number; seedB: number; steps: number; label?: string | null }): Promise<{ png: Buffer | Uint8Array; seed?: number; label?: string | null }[]>;
}

// Loaded by path at run time: the server builds before the pipelines exist in every checkout.
const textPipelineModule = '../../text/pipeline.js';
const imagePipelineModule = '../../image/pipeline.js';

export class TextEngine {
  private constructor(readonly gen: TextGenerator, readonly info: TextModelInfo) {}

  static async load(id: string, spec: string | undefined): Promise<TextEngine> {
    const mod = (await import(textPipelineModule)) as { textGeneration(model?: string, opts?: object): Promise<TextGenerator> };
    const gen = await mod.textGeneration(spec);
    const cfg = (gen as { config?: { nPositions?: number } }).config;
    const ctx = typeof gen.contextLength === 'number' ? gen.contextLength : (cfg?.nPositions ?? 1024);
    return new TextEngine(gen, { id, kind: 'text', contextLength: ctx });
  }

  /** Generates one completion; `onDelta` receives the text as it is produced (stop strings held back). */
  async generate(input: TextInput, params: TextParams, onDelta: ((t: string) => void) | null, signal: AbortSignal): Promise<TextResult> {
    const opts: GenOptions = {
      maxNewTokens: params.maxTokens,
      temperature: params.temperature > 0 ? params.temperature : 1,
      doSample: params.temperature > 0,
      topP: params.topP,
      topK: 0, // OpenAI semantics: no top-k unless asked (the API has no top-k)
      seed: params.seed,
      stop: params.stop.length ? params.stop : undefined,
      signal,
      truncate: true,
    };
    if (!onDelta) {
      const r = 'messages' in input ? await this.gen.chat(input.messages, opts) : await this.gen(input.prompt, opts);
      return { text: r.text, promptTokens: r.promptTokens, completionTokens: r.completionTokens, finishReason: r.finishReason === 'length' ? 'length' : 'stop' };
    }
    // Streaming: gen.stream / gen.chat.stream yield decoded text pieces.
    const filter = new StopFilter(params.stop);
    const inner = new AbortController();
    const onOuter = () => inner.abort();
    signal.addEventListener('abort', onOuter, { once: true });
    let text = '';
    let pieces = 0;
    let stopped = false;
    try {
      const chatStream = (this.gen.chat as unknown as { stream?: (m: ChatMessage[], o: GenOptions) => AsyncIterable<string> }).stream;
      const it = 'messages' in input
        ? (chatStream ? chatStream.call(this.gen.chat, input.messages, { ...opts, signal: inner.signal }) : null)
        : this.gen.stream(input.prompt, { ...opts, signal: inner.signal });
      if (!it) throw new Error('this text pipeline cannot stream chats');
      for await (const piece of it) {
        pieces++;
        const { emit, stopped: hit } = filter.push(piece);
        if (emit) { text += emit; onDelta(emit); }
        if (hit) { stopped = true; inner.abort(); break; }
      }
      const tail = filter.flush();
      if (tail) { text += tail; onDelta(tail); }
    } finally {
      signal.removeEventListener('abort', onOuter);
    }
    const promptText = 'messages' in input ? input.messages.map((m) => m.content).join('\n') : input.prompt;
    const promptTokens = this.gen.tokenizer.encode(promptText).length;
    const completionTokens = Math.max(pieces, 0);
    const finishReason = !stopped && completionTokens >= params.maxTokens ? 'length' : 'stop';
    return { text, promptTokens, completionTokens, finishReason };
  }
}

export class ImageEngine {
  private constructor(readonly gen: ImageGenerator, readonly info: ImageModelInfo) {}

  static async load(id: string, dir: string | undefined): Promise<ImageEngine> {
    const mod = (await import(imagePipelineModule)) as { imageGeneration(dir?: string): Promise<ImageGenerator> };
    const gen = await mod.imageGeneration(dir);
    return new ImageEngine(gen, { id, kind: 'image', labels: gen.labels, imageSize: gen.imageSize, channels: gen.channels });
  }

  async generate(req: ImageRequest): Promise<GeneratedImage[]> {
    const out = await this.gen.generate({ count: req.count, seed: req.seed, label: req.label, truncation: req.truncation });
    return out.map((o) => ({ png: Buffer.from(o.png), seed: o.seed, label: o.label ?? null }));
  }

  async interpolate(req: InterpolateRequest): Promise<GeneratedImage[]> {
    const out = await this.gen.interpolate({ seedA: req.seedA, seedB: req.seedB, steps: req.steps, label: req.label });
    return out.map((o, i) => ({ png: Buffer.from(o.png), seed: o.seed ?? req.seedA + i, label: o.label ?? req.label }));
  }
}

/** Runs a training job with the pipelines' trainers; progress is mapped to {step, totalSteps, losses, sample}. */
export async function runTraining(spec: TrainingSpec, onProgress: (p: TrainingProgress) => void, signal: AbortSignal): Promise<{ modelDir: string }> {
  void spec; void onProgress; void signal;
  throw new Error('training is not wired yet');
}
