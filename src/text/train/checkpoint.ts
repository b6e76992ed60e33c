/**
 * Training checkpoints.
 *
 * A model directory is the Hugging Face layout transformers' GPT2LMHeadModel.from_pretrained
 * reads: `config.json`, `model.safetensors` (names with the `transformer.` prefix, Conv1D
 * weights [in, out], the tied `lm_head` left out as save_pretrained does), the tokenizer files
 * and `generation_config.json`.
 *
 * A checkpoint `OUT/checkpoint-N/` is such a directory plus the training state:
 * `optimizer.safetensors` (AdamW moments by parameter name) and `trainer_state.json` (step,
 * RNG states, data position, loss history, run settings). It is written into a temporary
 * directory and renamed into place, then `OUT/latest` is replaced atomically, so a crash at any
 * moment leaves the previous checkpoint intact.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CheckpointError } from '../../errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../../io/atomic.js';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../../io/safetensors.js';
import type { Tensor } from '../../engine/tensor.js';
import type { GPT2Config } from '../gpt2.js';
import { transpose2d } from '../checkpoint.js';
import { VERSION } from '../../version.js';

/** Parameters HF GPT-2 stores as Conv1D ([in, out]). */
const CONV1D = /^h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/;

export function isConv1dName(name: string): boolean {
  return CONV1D.test(name);
}

export interface HfConfigExtras {
  /** Dropout written as resid/embd/attn_pdrop. */
  dropout?: number;
  nameOrPath?: string;
}

/** config.json as transformers writes it for GPT2LMHeadModel. */
export function hfConfigJson(c: GPT2Config, extras: HfConfigExtras = {}): Record<string, unknown> {
  const p = extras.dropout ?? 0.0;
  return {
    ...(extras.nameOrPath ? { _name_or_path: extras.nameOrPath } : {}),
    activation_function: 'gelu_new',
    architectures: ['GPT2LMHeadModel'],
    attn_pdrop: p,
    bos_token_id: c.bosTokenId,
    embd_pdrop: p,
    eos_token_id: c.eosTokenId,
    initializer_range: 0.02,
    layer_norm_epsilon: c.layerNormEpsilon,
    model_type: 'gpt2',
    n_ctx: c.nPositions,
    n_embd: c.nEmbd,
    n_head: c.nHead,
    n_inner: c.nInner === 4 * c.nEmbd ? null : c.nInner,
    n_layer: c.nLayer,
    n_positions: c.nPositions,
    reorder_and_upcast_attn: false,
    resid_pdrop: p,
    scale_attn_by_inverse_layer_idx: c.scaleAttnByInverseLayerIdx,
    scale_attn_weights: true,
    summary_activation: null,
    summary_first_dropout: 0.1,
    summary_proj_to_labels: true,
    summary_type: 'cls_index',
    summary_use_proj: true,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
    transformers_version: '4.40.0',
    use_cache: true,
    vocab_size: c.vocabSize,
  };
}

export interface GenerationConfigJson {
  do_sample?: boolean;
  temperature?: number;
  top_k?: number;
  top_p?: number;
  max_new_tokens?: number;
  repetition_penalty?: number;
}

/** The model's tensors in HF names and layout (Conv1D transposed to [in, out]). */
export function hfTensors(named: Iterable<[string, Tensor]>): Record<string, TensorToWrite> {
  const out: Record<string, TensorToWrite> = {};
  for (const [name, t] of named) {
    let data = t.data, shape = [...t.shape];
    if (isConv1dName(name)) {
      data = transpose2d(t.data, t.shape[0], t.shape[1]);
      shape = [t.shape[1], t.shape[0]];
    }
    out[`transformer.${name}`] = { dtype: 'F32', shape, data };
  }
  return out;
}

export interface TokenizerLike {
  save(dir: string): void;
}

/**
 * Writes a complete HF model directory (every file atomically). `extraFiles` (name → text) are
 * written too (a model card, a loss curve).
 */
export function saveModelDir(
  dir: string,
  model: { config: GPT2Config; namedParameters(): [string, Tensor][] },
  tokenizer: TokenizerLike | null,
  opts: { generation?: GenerationConfigJson; extras?: HfConfigExtras; chatTemplate?: string; tensors?: Record<string, TensorToWrite> } = {},
): void {
  fs.mkdirSync(dir, { recursive: true });
  const c = model.config;
  writeSafetensors(path.join(dir, 'model.safetensors'), opts.tensors ?? hfTensors(model.namedParameters()), { format: 'pt' });
  writeJsonAtomic(path.join(dir, 'config.json'), hfConfigJson(c, opts.extras));
  writeJsonAtomic(path.join(dir, 'generation_config.json'), {
    _from_model_config: false,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenId,
    ...(opts.generation ?? { do_sample: true, temperature: 0.8, top_k: 40, max_new_tokens: 100 }),
    transformers_version: '4.40.0',
  });
  if (tokenizer) {
    tokenizer.save(dir);
    if (opts.chatTemplate) {
      const file = path.join(dir, 'tokenizer_config.json');
      const cfg = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
      cfg.chat_template = opts.chatTemplate;
      writeJsonAtomic(file, cfg);
    }
  }
}

// ---- training state -------------------------------------------------------------------------

export interface TrainerState {
  version: 1;
  aigc: string;
  /** Optimizer steps done. */
  step: number;
  /** RNG states: dropout and data order. */
  rng: { dropout: number[]; data: number[] };
  /** Position in the training data: epoch and index of the next row in that epoch's order. */
  data: { epoch: number; index: number };
  /** Per step: [step, loss, lr]; validation: [step, loss]. */
  history: { train: [number, number, number][]; val: [number, number][] };
  /** The run's settings (what --resume reuses). */
  run: Record<string, unknown>;
  /** Seconds of training so far (across resumes). */
  elapsed: number;
  /** Tokens trained on so far. */
  tokens: number;
}

/** Writes `checkpoint-N` atomically (temp dir + rename), then points `latest` at it and prunes older ones. */
export function saveCheckpoint(
  outDir: string,
  step: number,
  writeModel: (dir: string) => void,
  optimizer: Record<string, Float32Array>,
  state: TrainerState,
  keep = 2,
): string {
  fs.mkdirSync(outDir, { recursive: true });
  const name = `checkpoint-${step}`;
  const final = path.join(outDir, name);
  const tmp = path.join(outDir, `.${name}.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  writeModel(tmp);
  const tensors: Record<string, TensorToWrite> = {};
  for (const [k, v] of Object.entries(optimizer)) tensors[k] = { dtype: 'F32', shape: [v.length], data: v };
  writeSafetensors(path.join(tmp, 'optimizer.safetensors'), tensors, { step: String(step) });
  writeJsonAtomic(path.join(tmp, 'trainer_state.json'), state);
  if (fs.existsSync(final)) fs.rmSync(final, { recursive: true, force: true });
  fs.renameSync(tmp, final);
  writeFileAtomic(path.join(outDir, 'latest'), name + '\n');
  // Prune: keep the newest `keep` checkpoints.
  const all = listCheckpoints(outDir);
  for (const s of all.slice(0, Math.max(0, all.length - keep))) fs.rmSync(path.join(outDir, `checkpoint-${s}`), { recursive: true, force: true });
  return final;
}

/** Steps of the complete checkpoints in outDir, ascending. */
export function listCheckpoints(outDir: string): number[] {
  if (!fs.existsSync(outDir)) return [];
  return fs.readdirSync(outDir)
    .map((n) => /^checkpoint-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null && fs.existsSync(path.join(outDir, m[0], 'trainer_state.json')))
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** The checkpoint `--resume` continues from: the one `latest` names, else the newest complete one. */
export function latestCheckpoint(outDir: string): string | null {
  const latest = path.join(outDir, 'latest');
  if (fs.existsSync(latest)) {
    const name = fs.readFileSync(latest, 'utf8').trim();
    if (/^checkpoint-\d+$/.test(name) && fs.existsSync(path.join(outDir, name, 'trainer_state.json'))) return path.join(outDir, name);
  }
  const all = listCheckpoints(outDir);
  return all.length ? path.join(outDir, `checkpoint-${all[all.length - 1]}`) : null;
}

export function loadTrainerState(dir: string): { state: TrainerState; optimizer: Map<string, Float32Array> } {
  const file = path.join(dir, 'trainer_state.json');
  let state: TrainerState;
  try {
    state = JSON.parse(fs.readFileSync(file, 'utf8')) as TrainerState;
  } catch (e) {
    throw new CheckpointError(`cannot read training state ${file}: ${(e as Error).message}`);
  }
  if (state.version !== 1) throw new CheckpointError(`${file}: unsupported trainer state version ${String(state.version)}`);
  const st = readSafetensors(path.join(dir, 'optimizer.safetensors'));
  const optimizer = new Map<string, Float32Array>();
  for (const n of st.names()) optimizer.set(n, st.getFloat32(n, { copy: true }));
  return { state, optimizer };
}

export function newTrainerState(run: Record<string, unknown>): TrainerState {
  return { version: 1, aigc: VERSION, step: 0, rng: { dropout: [], data: [] }, data: { epoch: 0, index: 0 }, history: { train: [], val: [] }, run, elapsed: 0, tokens: 0 };
}
