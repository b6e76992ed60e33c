/**
 * A deterministic ModelProvider for tests of HTTP behaviour only (validation, auth, queueing,
 * SSE framing, disconnects). Everything about real models is tested against the real provider.
 */
import sharp from 'sharp';
import type { GeneratedImage, ImageRequest, InterpolateRequest, ModelInfo, ModelProvider, TextInput, TextParams, TextResult, TrainingHooks, TrainingSpec } from '../../src/server/models.js';
import { AbortedError } from '../../src/server/models.js';

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve, reject) => {
  const t = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => { clearTimeout(t); reject(new AbortedError()); }, { once: true });
});

export class FakeProvider implements ModelProvider {
  tokenDelayMs = 0;
  started = 0;
  aborted = 0;
  completed = 0;
  lastParams: TextParams | null = null;

  models(): ModelInfo[] {
    return [
      { id: 'fake-text', kind: 'text', contextLength: 128 },
      { id: 'fake-image', kind: 'image', labels: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], imageSize: 8, channels: 1 },
    ];
  }

  async generateText(_model: string, input: TextInput, params: TextParams, onDelta: ((t: string) => void) | null, signal: AbortSignal): Promise<TextResult> {
    this.started++;
    this.lastParams = params;
    const prompt = 'prompt' in input ? input.prompt : input.messages.map((m) => m.content).join('\n');
    let text = '';
    let n = 0;
    let finish: 'stop' | 'length' = 'length';
    try {
      for (; n < params.maxTokens; n++) {
        if (this.tokenDelayMs) await sleep(this.tokenDelayMs, signal);
        if (signal.aborted) throw new AbortedError();
        const piece = ` w${(params.seed + n) % 97}`;
        const next = text + piece;
        const hit = params.stop.map((s) => next.indexOf(s)).filter((i) => i >= 0).sort((a, b) => a - b)[0];
        if (hit !== undefined) {
          const emit = next.slice(text.length, hit);
          if (emit && onDelta) onDelta(emit);
          text = next.slice(0, hit);
          finish = 'stop';
          n++;
          break;
        }
        text = next;
        onDelta?.(piece);
      }
    } catch (e) {
      this.aborted++;
      throw e;
    }
    this.completed++;
    return { text, promptTokens: prompt.split(/\s+/).filter(Boolean).length, completionTokens: n, finishReason: finish };
  }

  private async png(seed: number): Promise<Buffer> {
    const px = Buffer.alloc(64);
    for (let i = 0; i < 64; i++) px[i] = (seed * 31 + i * 7) % 256;
    return sharp(px, { raw: { width: 8, height: 8, channels: 1 } }).png().toBuffer();
  }

  async generateImages(_model: string, req: ImageRequest, signal: AbortSignal): Promise<GeneratedImage[]> {
    if (this.tokenDelayMs) await sleep(this.tokenDelayMs, signal);
    const out: GeneratedImage[] = [];
    for (let i = 0; i < req.count; i++) out.push({ png: await this.png(req.seed + i), seed: req.seed + i, label: req.label ?? String((req.seed + i) % 10) });
    return out;
  }

  async interpolate(_model: string, req: InterpolateRequest): Promise<GeneratedImage[]> {
    const out: GeneratedImage[] = [];
    for (let i = 0; i < req.steps; i++) out.push({ png: await this.png(req.seedA + i), seed: req.seedA, label: req.label });
    return out;
  }

  trainStepDelayMs = 20;
  async train(spec: TrainingSpec, hooks: TrainingHooks, signal: AbortSignal): Promise<{ modelDir: string }> {
    const steps = Number(spec.params.steps ?? 5);
    for (let s = 1; s <= steps; s++) {
      await sleep(this.trainStepDelayMs, signal);
      hooks.onProgress({ step: s, totalSteps: steps, losses: { dLoss: 1 / s, gLoss: 2 / s }, sample: s === steps ? await this.png(s) : undefined });
    }
    return { modelDir: spec.outputDir };
  }

  async close(): Promise<void> {}
}
