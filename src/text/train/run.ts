/**
 * `aigc text train | eval | tokenizer train` as library functions (the CLI is a thin layer).
 *
 * train: reads and validates the data, tokenizes it once into a binary cache, builds a model
 * from scratch (a preset or flags) or loads one (`--model`, optionally with LoRA), runs the loop
 * (trainer.ts), and writes the result as a Hugging Face model directory (or a LoRA adapter,
 * optionally merged) with a loss curve. `resume` continues the newest checkpoint in `out`.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { backend } from '../../engine/backend/index.js';
import { ConfigError, DataError } from '../../errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../../io/atomic.js';
import { resolveModel } from '../../io/hub.js';
import {
  CHAT_TEMPLATE_JINJA, collectDataFiles, defaultTokenCacheDir, loadTokenCache, readDocuments, saveTokenCache,
  splitTrainVal, tokenCacheKey, tokenizeDocuments, type TextDocument, type TokenizedData,
} from '../../io/textdata.js';
import { GPT2, type GPT2Config } from '../gpt2.js';
import { applyLora, loadLoraAdapter, mergeLora, readLoraConfig, saveLoraAdapter, type LoraConfig } from '../lora.js';
import { ByteLevelBPETokenizer } from '../tokenizer/bpe.js';
import { loadGpt2FromPackage } from '../tokenizer/gpt2.js';
import { trainByteLevelBPE } from '../tokenizer/train.js';
import { latestCheckpoint, loadTrainerState, newTrainerState, saveModelDir } from './checkpoint.js';
import { lossCurveSvg, ProgressLine } from './report.js';
import { evaluate, train, type StepRecord, type TrainSettings } from './trainer.js';

export interface ModelShape {
  layers: number;
  heads: number;
  width: number;
  context: number;
}

export const PRESETS: Record<string, ModelShape> = {
  tiny: { layers: 2, heads: 2, width: 64, context: 64 },
  small: { layers: 4, heads: 4, width: 256, context: 128 },
  medium: { layers: 6, heads: 6, width: 384, context: 256 },
  gpt2: { layers: 12, heads: 12, width: 768, context: 1024 },
};

export const DEFAULT_SETTINGS: TrainSettings = {
  steps: 1000, batchSize: 8, blockSize: 128, gradAccum: 1, lr: 1e-3, minLr: 1e-4, warmupSteps: 50,
  weightDecay: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, gradClip: 1.0, dropout: 0.0, seed: 1337,
  evalEvery: 100, evalBatches: 20, sampleEvery: 0, samplePrompt: '', sampleTokens: 48,
  checkpointEvery: 100, keepCheckpoints: 2,
};

export interface TrainRunOptions {
  /** Data files or folders (.txt/.md/no extension: plain text; .jsonl: instruction records). */
  data: string[];
  /** Separate validation files (default: a split of the training data). */
  valData?: string[];
  /** Fraction of the data held out for validation when valData is not given (default 0.05). */
  valFraction?: number;
  out: string;
  /** Fine-tune this model (hub id or directory); default: train from scratch. */
  model?: string;
  resume?: boolean;
  /** Scratch: a preset name and/or explicit sizes (flags override the preset). */
  preset?: string;
  shape?: Partial<ModelShape>;
  /** Scratch: 'gpt2' (default), a tokenizer directory, or train a new BPE with vocabSize. */
  tokenizer?: string;
  vocabSize?: number;
  settings?: Partial<TrainSettings>;
  lora?: LoraConfig | null;
  /** With LoRA: also write the merged model to `out`. */
  merge?: boolean;
  cacheDir?: string;
  offline?: boolean;
  /** Print progress on stderr (default true). */
  progress?: boolean;
  /** Called for each step / eval / sample / checkpoint (the CLI prints JSON lines from these). */
  onRecord?: (r: Record<string, unknown>) => void;
  /** Install SIGINT/SIGTERM handlers that checkpoint and stop (default true). */
  handleSignals?: boolean;
  log?: (msg: string) => void;
}

export interface TrainRunResult {
  out: string;
  steps: number;
  trainLoss: number;
  valLoss: number | null;
  valPerplexity: number | null;
  seconds: number;
  interrupted: boolean;
  tokens: number;
  params: number;
}

type Tok = ByteLevelBPETokenizer;

function loadTokenizerSpec(spec: string): Tok {
  if (spec === 'gpt2') return loadGpt2FromPackage();
  return ByteLevelBPETokenizer.fromDirectory(spec);
}

function tokenizerId(tok: Tok): string {
  return crypto.createHash('sha256').update(tok.toTokenizerJson()).digest('hex').slice(0, 16);
}

function docTexts(docs: readonly TextDocument[]): string[] {
  return docs.map((d) => d.kind === 'text' ? d.text : d.kind === 'pair' ? `${d.prompt}${d.completion}` : d.messages.map((m) => m.content).join('\n'));
}

/** Tokenized train/val data, from the binary cache when the files and tokenizer are unchanged. */
export function prepareData(
  files: string[], valFiles: string[] | undefined, tok: Tok, blockSize: number, valFraction: number, seed: number,
  cacheRoot: string, log: (m: string) => void,
): { train: TokenizedData; val: TokenizedData | null; cacheDir: string } {
  const key = tokenCacheKey([...files, ...(valFiles ?? [])], tokenizerId(tok), { blockSize, valFraction: valFiles ? null : valFraction, seed, v: 1 });
  const dir = path.join(cacheRoot, key);
  const cached = loadTokenCache(dir);
  if (cached) {
    log(`tokenized data from the cache ${dir}`);
    return { ...cached, cacheDir: dir };
  }
  let train: TokenizedData, val: TokenizedData | null;
  const t0 = Date.now();
  const docs = readDocuments(files);
  const tokd = tokenizeDocuments(docs, tok);
  if (valFiles) {
    // One stream: the training tokens, then the validation tokens (segments offset past them).
    const vd = tokenizeDocuments(readDocuments(valFiles), tok);
    const tr = splitTrainVal(tokd, blockSize, 0, tok.vocabSize, seed).train;
    const va = splitTrainVal(vd, blockSize, 0, tok.vocabSize, seed).train;
    const n = tr.tokens.length;
    const tokens = new (tr.tokens instanceof Uint16Array ? Uint16Array : Uint32Array)(n + va.tokens.length);
    tokens.set(tr.tokens);
    tokens.set(va.tokens, n);
    const mask = new Uint8Array(n + va.mask.length);
    mask.set(tr.mask);
    mask.set(va.mask, n);
    const vseg = va.segments.slice();
    for (let i = 0; i < vseg.length; i += 2) vseg[i] += n;
    train = { tokens, mask, segments: tr.segments, instruction: tr.instruction };
    val = vseg.length ? { tokens, mask, segments: vseg, instruction: va.instruction } : null;
    saveTokenCache(dir, { train, val }, [...files, ...valFiles]);
    log(`tokenized ${files.length} training and ${valFiles.length} validation file(s) (${n} + ${va.tokens.length} tokens) in ${((Date.now() - t0) / 1000).toFixed(1)} s; cached in ${dir}`);
    return { train, val, cacheDir: dir };
  }
  ({ train, val } = splitTrainVal(tokd, blockSize, valFraction, tok.vocabSize, seed));
  saveTokenCache(dir, { train, val }, files);
  log(`tokenized ${files.length} file(s): ${train.tokens.length} tokens (${train.segments.length / 2} training rows, ${(val?.segments.length ?? 0) / 2} validation rows) in ${((Date.now() - t0) / 1000).toFixed(1)} s; cached in ${dir}`);
  return { train, val, cacheDir: dir };
}

function configFor(shape: ModelShape, tok: Tok): GPT2Config {
  if (shape.width % shape.heads !== 0) throw new ConfigError(`--width ${shape.width} must be divisible by --heads ${shape.heads}`);
  const eos = tok.eosTokenId;
  return {
    vocabSize: tok.vocabSize, nPositions: shape.context, nEmbd: shape.width, nLayer: shape.layers, nHead: shape.heads,
    nInner: 4 * shape.width, layerNormEpsilon: 1e-5, scaleAttnByInverseLayerIdx: false, bosTokenId: eos, eosTokenId: eos,
  };
}

function installSignals(onStop: () => void): () => void {
  let count = 0;
  const handler = (sig: NodeJS.Signals) => {
    count++;
    if (count > 1) {
      process.stderr.write(`\naigc: second ${sig}: exiting without waiting for the checkpoint\n`);
      process.exit(130);
    }
    process.stderr.write(`\naigc: ${sig}: finishing this step and saving a checkpoint (press Ctrl-C again to quit at once)\n`);
    onStop();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => { process.off('SIGINT', handler); process.off('SIGTERM', handler); };
}

export async function runTextTrain(o: TrainRunOptions): Promise<TrainRunResult> {
  const log = o.log ?? ((m: string) => process.stderr.write(m + '\n'));
  const be = backend(); // load the kernels first: a missing native addon shows before any work
  const out = o.out;
  let settings: TrainSettings;
  let model: GPT2;
  let tok: Tok;
  let lora: LoraConfig | null = o.lora ?? null;
  let baseModel: string | undefined = o.model;
  let resume: { state: ReturnType<typeof loadTrainerState>['state']; optimizer: Map<string, Float32Array> } | undefined;
  let dataFiles: string[];
  let valFiles: string[] | undefined;
  let valFraction = o.valFraction ?? 0.05;
  let merge = o.merge ?? false;

  if (o.resume) {
    const ck = latestCheckpoint(out);
    if (!ck) throw new ConfigError(`--resume: no checkpoint in ${out} (expected ${out}/checkpoint-N with trainer_state.json)`);
    resume = loadTrainerState(ck);
    const run = resume.state.run as {
      settings: TrainSettings; lora: LoraConfig | null; baseModel?: string; data: string[]; valData?: string[]; valFraction: number; merge: boolean;
    };
    settings = { ...run.settings, ...(o.settings?.steps !== undefined ? { steps: o.settings.steps } : {}) };
    resume.state.run = { ...resume.state.run, settings };
    lora = run.lora;
    baseModel = run.baseModel;
    dataFiles = run.data;
    valFiles = run.valData;
    valFraction = run.valFraction;
    merge = run.merge;
    tok = ByteLevelBPETokenizer.fromDirectory(ck);
    if (lora) {
      if (!baseModel) throw new ConfigError(`${ck}: a LoRA checkpoint without its base model`);
      model = GPT2.fromPretrained(await resolveModel(baseModel, { offline: o.offline }));
      loadLoraAdapter(model, ck);
    } else model = GPT2.fromPretrained(ck);
    log(`resuming from ${ck}`);
  } else {
    settings = { ...DEFAULT_SETTINGS, ...(o.model ? { lr: lora ? 1e-3 : 1e-4, minLr: lora ? 1e-4 : 1e-5, warmupSteps: 20 } : {}), ...stripUndefined(o.settings ?? {}) };
    dataFiles = collectDataFiles(o.data).map((f) => path.resolve(f));
    valFiles = o.valData?.length ? collectDataFiles(o.valData).map((f) => path.resolve(f)) : undefined;
    if (fs.existsSync(out) && latestCheckpoint(out)) {
      throw new ConfigError(`${out} already holds a training run (checkpoints); pass --resume to continue it, or choose another --out`);
    }
    if (o.model) {
      const dir = await resolveModel(o.model, { offline: o.offline });
      model = GPT2.fromPretrained(dir);
      tok = ByteLevelBPETokenizer.fromDirectory(dir);
      if (lora) applyLora(model, lora, settings.seed);
    } else {
      if (lora) throw new ConfigError('--lora-rank needs --model: LoRA adapts an existing model');
      const preset = o.preset ?? 'small';
      if (!PRESETS[preset]) throw new ConfigError(`unknown preset "${preset}"; choose one of ${Object.keys(PRESETS).join(', ')}`);
      const shape: ModelShape = { ...PRESETS[preset], ...stripUndefined(o.shape ?? {}) };
      if (o.vocabSize !== undefined) {
        const t0 = Date.now();
        const docs = readDocuments(dataFiles);
        tok = trainByteLevelBPE(docTexts(docs), o.vocabSize);
        log(`trained a byte-level BPE tokenizer of ${tok.vocabSize} tokens on ${dataFiles.length} file(s) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      } else tok = loadTokenizerSpec(o.tokenizer ?? 'gpt2');
      model = new GPT2(configFor(shape, tok), { seed: settings.seed });
      settings.blockSize = Math.min(settings.blockSize, shape.context);
      baseModel = undefined;
    }
  }
  if (tok.eosTokenId === null) throw new ConfigError('the tokenizer has no end-of-text token (eos_token); training needs one to separate documents');
  if (tok.vocabSize > model.config.vocabSize) throw new ConfigError(`the tokenizer has ${tok.vocabSize} tokens but the model's vocabulary only ${model.config.vocabSize}`);
  if (settings.blockSize > model.config.nPositions) settings.blockSize = model.config.nPositions;

  const cacheRoot = o.cacheDir ?? defaultTokenCacheDir();
  const data = prepareData(dataFiles, valFiles, tok, settings.blockSize, valFraction, settings.seed, cacheRoot, log);
  const params = model.parameters().reduce((n, p) => n + p.size, 0);
  log(`${be.name} backend, ${be.threads} thread(s)`);
  log(`model: ${model.config.nLayer} layers, ${model.config.nHead} heads, width ${model.config.nEmbd}, context ${model.config.nPositions}, vocabulary ${model.config.vocabSize}: ${(model.numParameters() / 1e6).toFixed(2)}M parameters (${(params / 1e6).toFixed(3)}M trained)`);

  const isInstruction = data.train.instruction;
  const chatTemplate = isInstruction ? CHAT_TEMPLATE_JINJA : undefined;
  const run = { settings, lora, baseModel, data: dataFiles, valData: valFiles, valFraction, merge, preset: o.preset, cacheDir: data.cacheDir };
  const writeModel = (dir: string): void => {
    if (lora) {
      saveLoraAdapter(dir, model, lora, baseModel ?? '');
      tok.save(dir);
    } else saveModelDir(dir, model, tok, { extras: { dropout: settings.dropout }, chatTemplate });
  };

  let stop = false;
  const uninstall = o.handleSignals === false ? () => undefined : installSignals(() => { stop = true; });
  const progress = new ProgressLine(process.stderr, o.progress === false);
  const emit = o.onRecord ?? (() => undefined);
  let result;
  try {
    result = await train({
      model, tokenizer: tok, train: data.train, val: data.val, settings, outDir: out, writeModel,
      resume, initialState: newTrainerState(run),
      shouldStop: () => stop,
      hooks: {
        progress, log,
        onStep: (r: StepRecord) => emit({ type: 'step', ...r }),
        onEval: (r) => emit({ type: 'eval', ...r }),
        onSample: (r) => emit({ type: 'sample', ...r }),
        onCheckpoint: (dir, step) => emit({ type: 'checkpoint', dir, step }),
      },
    });
  } finally {
    uninstall();
  }

  // The final model at the top of `out`, plus the loss curve.
  const state = result.state;
  if (lora) {
    writeModel(out);
    if (merge) {
      mergeLora(model);
      saveModelDir(out, model, tok, { extras: { dropout: settings.dropout }, chatTemplate });
      log(`merged the LoRA adapter into the base weights: ${out}/model.safetensors`);
    }
  } else writeModel(out);
  writeFileAtomic(path.join(out, 'loss.svg'), lossCurveSvg(state.history.train, state.history.val, `${path.basename(path.resolve(out))}: loss per step`));
  const lastVal = state.history.val.length ? state.history.val[state.history.val.length - 1] : null;
  const tail = state.history.train.slice(-Math.max(1, Math.min(20, state.history.train.length)));
  const trainLoss = tail.reduce((s, r) => s + r[1], 0) / tail.length;
  const summary: TrainRunResult = {
    out, steps: state.step, trainLoss, valLoss: lastVal ? lastVal[1] : null, valPerplexity: lastVal ? Math.exp(lastVal[1]) : null,
    seconds: state.elapsed, interrupted: result.interrupted, tokens: state.tokens, params: model.numParameters(),
  };
  writeJsonAtomic(path.join(out, 'train_summary.json'), { ...summary, settings, lora, data: dataFiles, model: baseModel ?? null, preset: o.preset ?? null });
  emit({ type: 'done', ...summary });
  return summary;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

// ---- eval ---------------------------------------------------------------------------------

export interface EvalRunOptions {
  model: string;
  data: string[];
  /** Tokens per window (default: the model's context, at most 1024). */
  blockSize?: number;
  batchSize?: number;
  offline?: boolean;
}

export interface EvalRunResult {
  model: string;
  loss: number;
  perplexity: number;
  tokens: number;
  blockSize: number;
}

/** Perplexity of a model on held-out text: non-overlapping windows of blockSize tokens. */
export async function runTextEval(o: EvalRunOptions): Promise<EvalRunResult> {
  const dir = await resolveModel(o.model, { offline: o.offline });
  let model: GPT2;
  if (fs.existsSync(path.join(dir, 'adapter_config.json')) && !fs.existsSync(path.join(dir, 'model.safetensors'))) {
    // A LoRA adapter directory: its base model plus the adapter.
    const base = readLoraConfig(dir).baseModel;
    if (!base) throw new ConfigError(`${dir}/adapter_config.json does not name its base model (base_model_name_or_path)`);
    model = GPT2.fromPretrained(await resolveModel(base, { offline: o.offline }));
    loadLoraAdapter(model, dir);
  } else model = GPT2.fromPretrained(dir);
  const tok = ByteLevelBPETokenizer.fromDirectory(dir);
  const T = Math.min(o.blockSize ?? Math.min(model.config.nPositions, 1024), model.config.nPositions);
  const files = collectDataFiles(o.data);
  const docs = readDocuments(files);
  const t = tokenizeDocuments(docs, tok);
  const { train: d } = splitTrainVal(t, T, 0, tok.vocabSize);
  if (d.segments.length === 0) throw new DataError(`${files.join(', ')}: too little text to evaluate (needs at least 2 tokens)`);
  const r = evaluate(model, d, o.batchSize ?? 4, T, tok.eosTokenId ?? 0);
  return { model: dir, loss: r.loss, perplexity: Math.exp(r.loss), tokens: r.tokens, blockSize: T };
}

// ---- tokenizer train ------------------------------------------------------------------------

export function runTokenizerTrain(o: { data: string[]; vocabSize: number; out: string; log?: (m: string) => void }): { out: string; vocabSize: number; merges: number } {
  const files = collectDataFiles(o.data);
  const docs = readDocuments(files);
  const t0 = Date.now();
  const tok = trainByteLevelBPE(docTexts(docs), o.vocabSize);
  tok.save(o.out);
  o.log?.(`trained ${tok.vocabSize} tokens (${tok.merges.length} merges) on ${files.length} file(s) in ${((Date.now() - t0) / 1000).toFixed(1)} s → ${o.out}`);
  return { out: o.out, vocabSize: tok.vocabSize, merges: tok.merges.length };
}
