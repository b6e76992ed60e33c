/**
 * The training loop: AdamW (decay on matrices only), linear warmup + cosine learning rate,
 * global-norm gradient clipping, gradient accumulation, dropout, validation loss/perplexity and
 * sample text every N steps, atomic checkpoints every N steps with the full training state for
 * an exact resume, and a checkpoint on Ctrl-C (SIGINT/SIGTERM) before exiting.
 *
 * Determinism: the data order, dropout masks and initialisation all come from the run's seed;
 * a checkpoint holds the weights, the AdamW moments, the step, both RNG states and the data
 * position, so a resumed run computes exactly the same losses as an uninterrupted one.
 */
import * as F from '../../engine/ops/index.js';
import { backend } from '../../engine/backend/index.js';
import { Rng } from '../../engine/rng.js';
import { noGrad, type Tensor } from '../../engine/tensor.js';
import { AigcError, ConfigError } from '../../errors.js';
import type { TokenizedData } from '../../io/textdata.js';
import { AdamW, warmupCosine } from '../../nn/optim.js';
import type { GPT2 } from '../gpt2.js';
import { applyTemperature, applyTopK } from '../generation/logits-processors.js';
import { sampleFromLogits } from '../generation/sampling.js';
import { BatchSampler, evalBatches } from './batches.js';
import { trainingLoss } from './model-adapter.js';
import { saveCheckpoint, type TrainerState } from './checkpoint.js';
import { formatDuration, ProgressLine } from './report.js';

export interface TrainSettings {
  /** Optimizer steps to run (in total, counting steps before a resume). */
  steps: number;
  batchSize: number;
  /** Tokens per row (context length for training). */
  blockSize: number;
  gradAccum: number;
  lr: number;
  minLr: number;
  warmupSteps: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Max global gradient norm (0: no clipping). */
  gradClip: number;
  dropout: number;
  seed: number;
  /** Validate every N steps (0: never); at most evalBatches batches. */
  evalEvery: number;
  evalBatches: number;
  /** Print a sample every N steps (0: never). */
  sampleEvery: number;
  samplePrompt: string;
  sampleTokens: number;
  /** Checkpoint every N steps (0: only at the end / on interrupt). */
  checkpointEvery: number;
  keepCheckpoints: number;
}

export interface StepRecord {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  tokens_per_s: number;
  ms: number;
}

export interface TrainHooks {
  /** After each optimizer step. */
  onStep?: (r: StepRecord) => void;
  onEval?: (r: { step: number; val_loss: number; val_ppl: number }) => void;
  onSample?: (r: { step: number; text: string }) => void;
  onCheckpoint?: (dir: string, step: number) => void;
  /** Messages for the user (stderr). */
  log?: (msg: string) => void;
  progress?: ProgressLine;
}

export interface TrainContext {
  model: GPT2;
  /** Decodes ids for samples; encodes the sample prompt. */
  tokenizer: { encode(t: string): number[]; decode(ids: ArrayLike<number>): string; eosTokenId: number | null };
  train: TokenizedData;
  val: TokenizedData | null;
  settings: TrainSettings;
  outDir: string;
  /** Writes the model part of a checkpoint directory (HF layout or a LoRA adapter). */
  writeModel: (dir: string) => void;
  /** State to continue from (--resume), with the optimizer moments by name. */
  resume?: { state: TrainerState; optimizer: Map<string, Float32Array> };
  /** The state a fresh run starts from (run settings recorded in checkpoints). */
  initialState: TrainerState;
  hooks?: TrainHooks;
  /** Stop (and checkpoint) when this returns true; checked between steps. */
  shouldStop?: () => boolean;
}

export interface TrainResult {
  state: TrainerState;
  interrupted: boolean;
  lastCheckpoint: string | null;
}

/**
 * Global-norm gradient clipping as torch.nn.utils.clip_grad_norm_ (coefficient
 * max/(norm+1e-6), applied when < 1). The squared norms are dot products on the backend GEMM
 * (vectorised, float32 per tensor as PyTorch); returns the norm before clipping.
 */
export function clipGradients(params: readonly Tensor[], maxNorm: number): number {
  let sq = 0;
  for (const p of params) if (p.grad) sq += sumOfSquares(p.grad.data);
  const norm = Math.sqrt(sq);
  if (maxNorm > 0) {
    const k = maxNorm / (norm + 1e-6);
    if (k < 1) for (const p of params) if (p.grad) scaleInPlace(p.grad.data, k);
  }
  return norm;
}

const CHUNK = 16384;
let dots = new Float32Array(64);

/** Σ g² as float32 dot products over chunks of 16384 (one batched backend call), summed in float64. */
function sumOfSquares(g: Float32Array): number {
  const be = backend();
  const n = Math.floor(g.length / CHUNK), rest = g.length - n * CHUNK;
  if (dots.length < n + 1) dots = new Float32Array(n + 1);
  if (n > 0) be.matmul(g, g, dots, n, 1, 1, CHUNK, false, true, CHUNK, CHUNK, 1, false);
  if (rest > 0) be.matmul(g.subarray(n * CHUNK), g.subarray(n * CHUNK), dots.subarray(n), 1, 1, 1, rest, false, true, 0, 0, 0, false);
  let s = 0;
  for (let i = 0; i < n + (rest > 0 ? 1 : 0); i++) s += dots[i];
  return s;
}

let scaleScratch = new Float32Array(0);

/** g *= k with k rounded to float32 (as PyTorch's clip coefficient), on the backend in blocks. */
function scaleInPlace(g: Float32Array, k: number): void {
  const be = backend();
  const BLOCK = 1 << 16;
  if (scaleScratch.length < Math.min(BLOCK, g.length)) scaleScratch = new Float32Array(Math.min(BLOCK, Math.max(g.length, 1024)));
  const kk = Float32Array.of(k);
  for (let o = 0; o < g.length; o += BLOCK) {
    const n = Math.min(BLOCK, g.length - o);
    const src = g.subarray(o, o + n);
    be.matmul(kk, src, scaleScratch, 1, 1, n, 1, false, false, 0, 0, 0, false);
    src.set(scaleScratch.subarray(0, n));
  }
}

/** Mean loss over validation batches (token-weighted), in eval mode. */
export function evaluate(model: GPT2, data: TokenizedData, B: number, T: number, pad: number, maxBatches = Infinity): { loss: number; tokens: number } {
  const was = model.training;
  model.eval();
  try {
    return noGrad(() => {
      let sum = 0, count = 0;
      for (const b of evalBatches(data, B, T, pad, maxBatches)) {
        if (b.count === 0) continue;
        sum += trainingLoss(model, b.ids, b.rows, T, b.targets).item() * b.count;
        count += b.count;
      }
      return { loss: count ? sum / count : NaN, tokens: count };
    });
  } finally {
    model.train(was);
  }
}

/** Samples text from the model (top-k 40, temperature 0.8) with its own RNG. */
export function sampleText(model: GPT2, tok: TrainContext['tokenizer'], prompt: string, maxTokens: number, seed: number): string {
  const was = model.training;
  model.eval();
  try {
    return noGrad(() => {
      const rng = new Rng(seed);
      let ids = tok.encode(prompt);
      if (ids.length === 0 && tok.eosTokenId !== null) ids = [tok.eosTokenId];
      const start = ids.length;
      const ctx = model.config.nPositions, V = model.config.vocabSize;
      for (let i = 0; i < maxTokens; i++) {
        const window = ids.slice(Math.max(0, ids.length - ctx));
        const { logits } = model.forward(window, 1, window.length);
        const last = logits.data.slice((window.length - 1) * V, window.length * V);
        applyTemperature(last, 0.8);
        applyTopK(last, 40);
        const next = sampleFromLogits(last, rng);
        if (next === tok.eosTokenId) break;
        ids.push(next);
      }
      return prompt + tok.decode(ids.slice(start));
    });
  } finally {
    model.train(was);
  }
}

/** Names of the trainable parameters, in the optimizer's order (decayed group, then the rest). */
function paramGroups(model: GPT2): { names: string[]; decay: Tensor[]; other: Tensor[] } {
  const seen = new Set<Tensor>();
  const decayN: [string, Tensor][] = [], otherN: [string, Tensor][] = [];
  for (const [n, p] of model.namedParameters()) {
    if (!p.requiresGrad || seen.has(p)) continue;
    seen.add(p);
    (p.ndim >= 2 ? decayN : otherN).push([n, p]);
  }
  return { names: [...decayN, ...otherN].map(([n]) => n), decay: decayN.map(([, p]) => p), other: otherN.map(([, p]) => p) };
}

/** AdamW over the model's trainable parameters: weight decay on matrices (ndim >= 2) only, as nanoGPT. */
export function makeOptimizer(model: GPT2, s: Pick<TrainSettings, 'lr' | 'weightDecay' | 'beta1' | 'beta2' | 'eps'>): { opt: AdamW; names: string[]; params: Tensor[] } {
  const { names, decay, other } = paramGroups(model);
  const params = [...decay, ...other];
  if (params.length === 0) throw new ConfigError('the model has no trainable parameters');
  const opt = new AdamW([{ params: decay, weightDecay: s.weightDecay }, { params: other, weightDecay: 0 }], {
    lr: s.lr, beta1: s.beta1, beta2: s.beta2, eps: s.eps,
  });
  return { opt, names, params };
}

/**
 * One optimizer step over `micro` micro-batches (gradient accumulation: each loss / count),
 * then clipping and AdamW at learning rate lr. Returns the mean micro-batch loss and the
 * gradient norm before clipping.
 */
export function trainStep(
  model: GPT2, opt: AdamW, params: readonly Tensor[], micro: Iterable<{ ids: Int32Array; targets: Int32Array }>,
  B: number, T: number, lr: number, gradClip: number, accum: number,
): { loss: number; gradNorm: number } {
  opt.lr = lr;
  let lossSum = 0;
  for (const b of micro) {
    const l = trainingLoss(model, b.ids, B, T, b.targets);
    (accum > 1 ? F.scale(l, 1 / accum) : l).backward();
    lossSum += l.item();
  }
  const loss = lossSum / accum;
  const gradNorm = clipGradients(params, gradClip);
  if (Number.isFinite(loss)) opt.step();
  opt.zeroGrad();
  return { loss, gradNorm };
}

export async function train(ctx: TrainContext): Promise<TrainResult> {
  const { model, settings: s, hooks = {} } = ctx;
  const log = hooks.log ?? (() => undefined);
  const pad = ctx.tokenizer.eosTokenId ?? 0;
  if (s.blockSize > model.config.nPositions) {
    throw new ConfigError(`block size ${s.blockSize} exceeds the model's context window of ${model.config.nPositions}`);
  }
  const { opt, names, params } = makeOptimizer(model, s);
  const schedule = warmupCosine({ lr: s.lr, warmupSteps: s.warmupSteps, totalSteps: s.steps, minLr: s.minLr });
  const dropoutRng = new Rng(s.seed + 1);
  const sampler = new BatchSampler(ctx.train, s.batchSize, s.blockSize, s.seed, pad);
  let state: TrainerState = ctx.initialState;

  if (ctx.resume) {
    state = ctx.resume.state;
    const buffers = names.map((n) => {
      const m = ctx.resume!.optimizer.get(`exp_avg.${n}`), v = ctx.resume!.optimizer.get(`exp_avg_sq.${n}`);
      if (!m || !v) throw new AigcError(`the checkpoint's optimizer state has no moments for ${n}`);
      return { m, v };
    });
    opt.loadStateDict({ step: state.step, buffers });
    if (state.rng.dropout.length) dropoutRng.setState(state.rng.dropout);
    sampler.setPosition(state.data);
    log(`resuming at step ${state.step} (epoch ${state.data.epoch}, row ${state.data.index})`);
  }

  model.setDropout(s.dropout, dropoutRng); // embeddings, attention probabilities, residual branches
  model.train();
  let lastCheckpoint: string | null = null;
  const checkpoint = (): string => {
    state.rng = { dropout: dropoutRng.getState(), data: [] };
    state.data = sampler.position;
    const sd = opt.stateDict();
    const tensors: Record<string, Float32Array> = {};
    names.forEach((n, i) => {
      tensors[`exp_avg.${n}`] = sd.buffers[i].m;
      tensors[`exp_avg_sq.${n}`] = sd.buffers[i].v;
    });
    const dir = saveCheckpoint(ctx.outDir, state.step, ctx.writeModel, tensors, state, s.keepCheckpoints);
    lastCheckpoint = dir;
    hooks.onCheckpoint?.(dir, state.step);
    return dir;
  };

  const tokensPerStep = s.batchSize * s.blockSize * s.gradAccum;
  let emaMs = 0;
  let interrupted = false;
  const t0 = performance.now() - state.elapsed * 1000;
  try {
    while (state.step < s.steps) {
      if (ctx.shouldStop?.()) { interrupted = true; break; }
      const ts = performance.now();
      const lr = schedule(state.step);
      const micro = function* () { for (let k = 0; k < s.gradAccum; k++) yield sampler.next(); };
      const { loss, gradNorm } = trainStep(model, opt, params, micro(), s.batchSize, s.blockSize, lr, s.gradClip, s.gradAccum);
      if (!Number.isFinite(loss)) throw new AigcError(`training diverged: the loss is ${loss} at step ${state.step + 1} (try a lower --lr)`, { code: 'internal' });
      state.step++;
      state.tokens += tokensPerStep;
      const ms = performance.now() - ts;
      emaMs = emaMs === 0 ? ms : 0.9 * emaMs + 0.1 * ms;
      state.elapsed = (performance.now() - t0) / 1000;
      state.history.train.push([state.step, loss, lr]);
      const rec: StepRecord = { step: state.step, loss, lr, grad_norm: gradNorm, tokens_per_s: tokensPerStep / (ms / 1000), ms };
      hooks.onStep?.(rec);
      hooks.progress?.update(state.step, s.steps, { loss, tokensPerS: tokensPerStep / (emaMs / 1000), eta: ((s.steps - state.step) * emaMs) / 1000, lr });

      const last = state.step === s.steps;
      if (ctx.val && s.evalEvery > 0 && (state.step % s.evalEvery === 0 || last)) {
        const ev = evaluate(model, ctx.val, s.batchSize, s.blockSize, pad, s.evalBatches);
        state.history.val.push([state.step, ev.loss]);
        hooks.onEval?.({ step: state.step, val_loss: ev.loss, val_ppl: Math.exp(ev.loss) });
        hooks.progress?.log(`step ${state.step}: validation loss ${ev.loss.toFixed(4)}, perplexity ${Math.exp(ev.loss).toFixed(2)} (${formatDuration(state.elapsed)} elapsed)`);
      }
      if (s.sampleEvery > 0 && (state.step % s.sampleEvery === 0 || last)) {
        const text = sampleText(model, ctx.tokenizer, s.samplePrompt, s.sampleTokens, s.seed + state.step);
        hooks.onSample?.({ step: state.step, text });
        hooks.progress?.log(`step ${state.step} sample: ${JSON.stringify(text)}`);
      }
      if (s.checkpointEvery > 0 && state.step % s.checkpointEvery === 0 && !last) checkpoint();
      // Let signal handlers run (Ctrl-C) between steps.
      await new Promise<void>((r) => setImmediate(r));
    }
    checkpoint();
  } finally {
    model.setDropout(0);
    hooks.progress?.end();
  }
  return { state, interrupted, lastCheckpoint };
}
