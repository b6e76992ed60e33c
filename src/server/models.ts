/**
 * The server's view of its models. Routes talk only to a {@link ModelProvider}; the real one
 * ({@link WorkerModelProvider} in worker-provider.ts) runs the text and image pipelines inside
 * worker threads so the event loop stays free. Tests of pure HTTP behaviour use a deterministic
 * fake (test/server/fake-provider.ts); everything else runs the real models.
 */

export interface TextModelInfo {
  id: string;
  kind: 'text';
  /** Context window in tokens. */
  contextLength: number;
}

export interface ImageModelInfo {
  id: string;
  kind: 'image';
  /** Class names of a conditional model, null for an unconditional one. */
  labels: string[] | null;
  imageSize: number;
  channels: number;
}

export type ModelInfo = TextModelInfo | ImageModelInfo;

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** What to generate from: a raw prompt, or chat messages rendered with the model's chat template. */
export type TextInput = { prompt: string } | { messages: ChatMessage[] };

export interface TextParams {
  maxTokens: number;
  temperature: number;
  topP: number;
  seed: number;
  stop: string[];
}

export interface TextResult {
  text: string;
  promptTokens: number;
  completionTokens: number;
  /** OpenAI's vocabulary: 'stop' (EOS or a stop string), 'length' (token budget or context). */
  finishReason: 'stop' | 'length';
}

export interface GeneratedImage {
  png: Buffer;
  seed: number;
  label: string | null;
}

export interface ImageRequest {
  count: number;
  seed: number;
  /** Class to draw (conditional models); null lets the model choose. */
  label: string | null;
  truncation?: number;
}

export interface InterpolateRequest {
  seedA: number;
  seedB: number;
  steps: number;
  label: string | null;
}

export type TrainingKind = 'image' | 'text';

/** A training run as the routes describe it; the provider maps it onto the pipelines' options. */
export interface TrainingSpec {
  kind: TrainingKind;
  /** Where checkpoints and samples go (inside the data directory, chosen by the server). */
  outputDir: string;
  /** Image: a preset (e.g. 'dcgan28') and a data set name (e.g. 'mnist'); text: a base model id and a corpus text. */
  params: Record<string, unknown>;
}

export interface TrainingProgress {
  step: number;
  totalSteps: number;
  /** Loss figures by name (e.g. {dLoss, gLoss} or {loss}). */
  losses: Record<string, number>;
  /** Optional sample image (a PNG grid), written by the server to the data directory. */
  sample?: Buffer;
}

export interface TrainingHooks {
  onProgress(p: TrainingProgress): void;
}

export interface ModelProvider {
  /** Every loaded model; the first of each kind is the default. */
  models(): ModelInfo[];
  generateText(modelId: string, input: TextInput, params: TextParams, onDelta: ((text: string) => void) | null, signal: AbortSignal): Promise<TextResult>;
  generateImages(modelId: string, req: ImageRequest, signal: AbortSignal): Promise<GeneratedImage[]>;
  interpolate(modelId: string, req: InterpolateRequest, signal: AbortSignal): Promise<GeneratedImage[]>;
  /** Runs one training job to completion (or until `signal` aborts); resolves with the output model directory. */
  train(spec: TrainingSpec, hooks: TrainingHooks, signal: AbortSignal): Promise<{ modelDir: string }>;
  close(): Promise<void>;
}

export class AbortedError extends Error {
  constructor() {
    super('generation cancelled');
    this.name = 'AbortedError';
  }
}
