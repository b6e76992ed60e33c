/**
 * The only place the server touches the text and image pipelines (src/text/pipeline.ts,
 * src/image/pipeline.ts, training). Runs inside worker threads.
 */
import { AbortedError } from '../models.js';
import type { GeneratedImage, ImageModelInfo, ImageRequest, InterpolateRequest, TextInput, TextModelInfo, TextParams, TextResult, TrainingProgress, TrainingSpec } from '../models.js';
import { readFile } from 'node:fs/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runTextTrain } from '../../text/train/run.js';
import { textGeneration, type GenerationOptions, type TextGenerator } from '../../text/pipeline.js';
import { StopStringMatcher } from '../../text/generation/stop-strings.js';

// ---- the image pipeline's shape, as the server uses it ----------------------------------------

interface ImageGenerator {
  labels: string[] | null;
  imageSize: number;
  channels: number;
  generate(o: { count: number; seed: number; label?: string | null; truncation?: number }): Promise<{ png: Buffer | Uint8Array; seed: number; label: string | null }[]>;
  interpolate(o: { seedA: number; seedB: number; steps: number; label?: string | null }): Promise<{ png: Buffer | Uint8Array; seed?: number; label?: string | null }[]>;
}

// Loaded by path at run time: the server builds before the pipelines exist in every checkout.
const imagePipelineModule = '../../image/pipeline.js';

export class TextEngine {
  private constructor(readonly gen: TextGenerator, readonly info: TextModelInfo) {}

  static async load(id: string, spec: string | undefined): Promise<TextEngine> {
    const gen = await textGeneration(spec);
    return new TextEngine(gen, { id, kind: 'text', contextLength: gen.contextWindow });
  }

  /** Generates one completion; `onDelta` receives the text as it is produced (stop strings held back). */
  async generate(input: TextInput, params: TextParams, onDelta: ((t: string) => void) | null, signal: AbortSignal): Promise<TextResult> {
    const opts: GenerationOptions = {
      maxNewTokens: params.maxTokens,
      // OpenAI semantics: temperature 0 is greedy; no top-k (the API has none).
      doSample: params.temperature > 0,
      temperature: params.temperature > 0 ? params.temperature : 1,
      topP: params.topP,
      topK: 0,
      seed: params.seed,
      stop: params.stop.length ? params.stop : undefined,
      signal,
      truncate: true,
      // OpenAI's completions read `<|endoftext|>` in a prompt as the token (chat messages stay text).
      allowSpecial: true,
    };
    const finish = (r: { finishReason: string }, stopped = false): TextResult['finishReason'] => (stopped ? 'stop' : r.finishReason === 'length' ? 'length' : 'stop');
    if (!onDelta) {
      const r = 'messages' in input ? await this.gen.chat(input.messages, opts) : await this.gen(input.prompt, opts);
      if (r.finishReason === 'abort' && signal.aborted) throw new AbortedError();
      return { text: r.text, promptTokens: r.promptTokens, completionTokens: r.completionTokens, finishReason: finish(r) };
    }
    const stream = 'messages' in input ? this.gen.streamChat(input.messages, opts) : this.gen.stream(input.prompt, opts);
    const filter = new StopStringMatcher(params.stop);
    let text = '';
    let stopped = false;
    for await (const piece of stream) {
      const { text: emit, stopped: hit } = filter.push(piece);
      if (emit) { text += emit; onDelta(emit); }
      if (hit) { stopped = true; break; } // leaving the loop cancels generation
    }
    const tail = filter.flush();
    if (tail) { text += tail; onDelta(tail); }
    if (signal.aborted) throw new AbortedError();
    const r = await stream.result.catch((e: unknown) => {
      if (stopped) return null; // cancelled by our own stop: count below
      throw e;
    });
    if (!r) {
      const promptText = 'messages' in input ? input.messages.map((m) => m.content).join('\n') : input.prompt;
      return { text, promptTokens: this.gen.encode(promptText, !('messages' in input)).length, completionTokens: this.gen.encode(text).length, finishReason: 'stop' };
    }
    return { text, promptTokens: r.promptTokens, completionTokens: r.completionTokens, finishReason: finish(r, stopped) };
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

type TrainEvent =
  | { type: 'start'; step: number; totalSteps: number }
  | { type: 'step'; step: number; totalSteps: number; dLoss?: number; gLoss?: number; loss?: number; [k: string]: unknown }
  | { type: 'sample'; step: number; path: string }
  | { type: string; step?: number; [k: string]: unknown };

interface TrainModule {
  trainGan(opts: Record<string, unknown>, hooks: { onProgress?: (e: TrainEvent) => void; signal?: AbortSignal }): Promise<{ out: string; aborted: boolean; lastSample: string | null }>;
}

/**
 * Runs a training job with the pipelines' trainers. Progress goes out at most every 250 ms (and
 * at every sample grid), as {step, totalSteps, losses, sample}.
 */
export async function runTraining(spec: TrainingSpec, onProgress: (p: TrainingProgress) => void, signal: AbortSignal): Promise<{ modelDir: string }> {
  const p = spec.params as { preset?: string; dataset?: string; conditional?: boolean; steps?: number; batch_size?: number; learning_rate?: number; seed?: number; sample_every?: number };
  if (spec.kind === 'text') return runTextTraining(spec, onProgress, signal);
  const mod = (await import(imagePipelineModule)) as TrainModule;
  const steps = p.steps ?? 500;
  let total = steps;
  let lastSent = 0;
  let last: TrainingProgress | null = null;
  const pending: Promise<void>[] = [];
  const r = await mod.trainGan({
    data: p.dataset ?? 'mnist', out: spec.outputDir, preset: p.preset, epochs: 1000, maxSteps: steps,
    batchSize: p.batch_size, lr: p.learning_rate, seed: p.seed, conditional: p.conditional, sampleEvery: p.sample_every ?? Math.max(1, Math.ceil(steps / 10)),
    metric: false,
  }, {
    signal,
    onProgress: (e) => {
      if (e.type === 'start' && typeof e.totalSteps === 'number') total = Math.min(steps, e.totalSteps);
      if (e.type === 'step') {
        const losses: Record<string, number> = {};
        for (const k of ['dLoss', 'gLoss', 'dReal', 'dFake', 'classAcc', 'loss']) if (typeof e[k] === 'number') losses[k] = e[k] as number;
        last = { step: e.step as number, totalSteps: total, losses };
        if (Date.now() - lastSent >= 250 || e.step === total) { lastSent = Date.now(); onProgress(last); }
      }
      if (e.type === 'sample' && typeof e.path === 'string') {
        const at = e.step as number;
        const losses = (last as TrainingProgress | null)?.losses ?? {};
        pending.push(readFile(e.path as string).then((png) => onProgress({ step: at, totalSteps: total, losses, sample: png })).catch(() => {}));
      }
    },
  });
  await Promise.all(pending);
  if (r.aborted || signal.aborted) throw new AbortedError();
  return { modelDir: r.out };
}

/**
 * A text job: the corpus (written into the job folder) trains a GPT-2 — fine-tuning the base
 * model when one is given (its directory or hub id, resolved by the provider), else a tiny one
 * from scratch with the GPT-2 tokenizer. The trainer has no cancel hook; the worker thread is
 * ended on cancel (the provider does that), after a last progress message.
 */
async function runTextTraining(spec: TrainingSpec, onProgress: (p: TrainingProgress) => void, signal: AbortSignal): Promise<{ modelDir: string }> {
  const p = spec.params as { text?: string; base_model_spec?: string; steps?: number; batch_size?: number; block_size?: number; learning_rate?: number; seed?: number };
  mkdirSync(spec.outputDir, { recursive: true });
  const corpus = path.join(spec.outputDir, 'corpus.txt');
  writeFileSync(corpus, p.text ?? '');
  const steps = p.steps ?? 200;
  const out = path.join(spec.outputDir, 'model');
  let lastSent = 0;
  const r = await runTextTrain({
    data: [corpus], out, model: p.base_model_spec, preset: p.base_model_spec ? undefined : 'tiny', tokenizer: p.base_model_spec ? undefined : 'gpt2',
    settings: {
      steps, batchSize: p.batch_size ?? 8, blockSize: Math.min(p.block_size ?? 64, 64), ...(p.learning_rate ? { lr: p.learning_rate } : {}),
      seed: p.seed ?? 1337, evalEvery: 0, sampleEvery: 0, checkpointEvery: 0, warmupSteps: Math.min(50, Math.floor(steps / 10)),
    },
    progress: false, handleSignals: false, log: () => {},
    onRecord: (rec) => {
      if (rec.type !== 'step' || typeof rec.step !== 'number' || typeof rec.loss !== 'number') return;
      if (Date.now() - lastSent >= 250 || rec.step === steps) {
        lastSent = Date.now();
        onProgress({ step: rec.step, totalSteps: steps, losses: { loss: rec.loss } });
      }
      if (signal.aborted) throw new AbortedError();
    },
  });
  if (signal.aborted || r.interrupted) throw new AbortedError();
  return { modelDir: r.out };
}
