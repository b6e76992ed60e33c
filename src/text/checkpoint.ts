/**
 * Reading a Hugging Face GPT2LMHeadModel directory: `config.json`, `generation_config.json`
 * (optional) and the weights, as `model.safetensors` or shards listed in
 * `model.safetensors.index.json`, in F32, F16 or BF16.
 *
 * Tensor names may carry the `transformer.` prefix or not; `lm_head.weight` is optional (tied to
 * `wte.weight`); the `attn.bias` / `attn.masked_bias` buffers of old checkpoints are ignored.
 * Every other name and every shape is checked against the config, and one error lists all the
 * problems. Conv1D weights ([in, out] in the file) are transposed to the [out, in] layout the
 * model and the kernels use.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CheckpointError, ConfigError } from '../errors.js';
import { readSafetensors, type SafetensorsFile } from '../io/safetensors.js';
import type { GPT2Config } from './gpt2.js';

/** What a checkpoint directory holds, ready for `GPT2.fromCheckpoint`. */
export interface LoadedCheckpoint {
  /** The directory, for error messages. */
  source: string;
  config: GPT2Config;
  /** Parameters by the model's names (`wte.weight`, `h.0.attn.c_attn.weight`, ...), [out, in] layout. */
  tensors: Map<string, Float32Array>;
  /** Defaults from generation_config.json (empty when absent). */
  generation: GenerationDefaults;
  /** The config's `_name_or_path` and the directory's full path, to recognise DialoGPT etc. */
  name: string;
  /** config.json as read. */
  rawConfig: Record<string, unknown>;
}

/** The generation_config.json fields aigc understands, in their Hugging Face names. */
export interface GenerationDefaults {
  max_new_tokens?: number;
  max_length?: number;
  do_sample?: boolean;
  temperature?: number;
  top_k?: number;
  top_p?: number;
  min_p?: number;
  typical_p?: number;
  repetition_penalty?: number;
  no_repeat_ngram_size?: number;
  num_beams?: number;
  num_return_sequences?: number;
  length_penalty?: number;
  early_stopping?: boolean | 'never';
  eos_token_id?: number | number[];
  pad_token_id?: number;
  bos_token_id?: number;
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new CheckpointError(`cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${file} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Activations that are GPT-2's tanh-approximated GELU. */
const TANH_GELU = new Set(['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast']);

/** Parses config.json of a GPT-2 model into a GPT2Config; ConfigError naming the field when wrong. */
export function parseGpt2Config(raw: unknown, where: string): GPT2Config {
  if (!isRecord(raw)) throw new ConfigError(`${where}: expected a JSON object`);
  const modelType = raw.model_type;
  if (modelType !== undefined && modelType !== 'gpt2') {
    throw new ConfigError(`${where}: model_type is "${String(modelType)}", but aigc runs GPT-2 models (model_type "gpt2") only`);
  }
  const int = (key: string, fallback?: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ConfigError(`${where}: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const nEmbd = int('n_embd');
  const nHead = int('n_head');
  if (nEmbd % nHead !== 0) throw new ConfigError(`${where}: n_embd ${nEmbd} is not divisible by n_head ${nHead}`);
  const act = raw.activation_function ?? 'gelu_new';
  if (typeof act !== 'string' || !TANH_GELU.has(act)) {
    throw new ConfigError(`${where}: activation_function "${String(act)}" is not supported (aigc implements GPT-2's tanh GELU: ${[...TANH_GELU].join(', ')})`);
  }
  const eps = raw.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0)) throw new ConfigError(`${where}: layer_norm_epsilon must be a positive number, got ${JSON.stringify(eps)}`);
  if (raw.reorder_and_upcast_attn === true) { /* numerically the same in float32 */ }
  if (raw.add_cross_attention === true) throw new ConfigError(`${where}: add_cross_attention is not supported`);
  const optId = (key: string): number | null => {
    const v = raw[key];
    return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null;
  };
  return {
    vocabSize: int('vocab_size'),
    nPositions: int('n_positions', typeof raw.n_ctx === 'number' ? raw.n_ctx : undefined),
    nEmbd,
    nLayer: int('n_layer'),
    nHead,
    nInner: raw.n_inner === null || raw.n_inner === undefined ? 4 * nEmbd : int('n_inner'),
    layerNormEpsilon: eps,
    scaleAttnByInverseLayerIdx: raw.scale_attn_by_inverse_layer_idx === true,
    bosTokenId: optId('bos_token_id'),
    eosTokenId: optId('eos_token_id'),
  };
}

/** The config.json of a model directory. */
export function readGpt2Config(dir: string): GPT2Config {
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(file)) throw new CheckpointError(`${dir} has no config.json: not a Hugging Face model directory`);
  return parseGpt2Config(readJson(file), file);
}

/** generation_config.json of a model directory, or {} when absent. Unknown fields are ignored. */
export function readGenerationDefaults(dir: string): GenerationDefaults {
  const file = path.join(dir, 'generation_config.json');
  if (!fs.existsSync(file)) return {};
  const raw = readJson(file);
  if (!isRecord(raw)) throw new CheckpointError(`${file}: expected a JSON object`);
  const out: Record<string, unknown> = {};
  const num = ['max_new_tokens', 'max_length', 'temperature', 'top_k', 'top_p', 'min_p', 'typical_p', 'repetition_penalty',
    'no_repeat_ngram_size', 'num_beams', 'num_return_sequences', 'length_penalty', 'pad_token_id', 'bos_token_id'];
  for (const k of num) if (typeof raw[k] === 'number') out[k] = raw[k];
  if (typeof raw.do_sample === 'boolean') out.do_sample = raw.do_sample;
  if (typeof raw.early_stopping === 'boolean' || raw.early_stopping === 'never') out.early_stopping = raw.early_stopping;
  const eos = raw.eos_token_id;
  if (typeof eos === 'number' || (Array.isArray(eos) && eos.every((e) => typeof e === 'number'))) out.eos_token_id = eos;
  return out as GenerationDefaults;
}

/** Expected tensors: model name → shape as stored in the file, and whether it is a Conv1D weight. */
function expectedTensors(c: GPT2Config): Map<string, { shape: number[]; conv1d: boolean }> {
  const C = c.nEmbd, I = c.nInner;
  const m = new Map<string, { shape: number[]; conv1d: boolean }>();
  const add = (name: string, shape: number[], conv1d = false) => m.set(name, { shape, conv1d });
  add('wte.weight', [c.vocabSize, C]);
  add('wpe.weight', [c.nPositions, C]);
  for (let i = 0; i < c.nLayer; i++) {
    const p = `h.${i}.`;
    add(p + 'ln_1.weight', [C]); add(p + 'ln_1.bias', [C]);
    add(p + 'attn.c_attn.weight', [C, 3 * C], true); add(p + 'attn.c_attn.bias', [3 * C]);
    add(p + 'attn.c_proj.weight', [C, C], true); add(p + 'attn.c_proj.bias', [C]);
    add(p + 'ln_2.weight', [C]); add(p + 'ln_2.bias', [C]);
    add(p + 'mlp.c_fc.weight', [C, I], true); add(p + 'mlp.c_fc.bias', [I]);
    add(p + 'mlp.c_proj.weight', [I, C], true); add(p + 'mlp.c_proj.bias', [C]);
  }
  add('ln_f.weight', [C]); add('ln_f.bias', [C]);
  return m;
}

const IGNORED = /^h\.\d+\.attn\.(bias|masked_bias)$/;

/** The safetensors files of a directory: name in file → (file, reader). */
function openWeights(dir: string): Map<string, SafetensorsFile> {
  const single = path.join(dir, 'model.safetensors');
  const indexFile = path.join(dir, 'model.safetensors.index.json');
  const byName = new Map<string, SafetensorsFile>();
  if (fs.existsSync(single)) {
    const f = readSafetensors(single, { mode: 'lazy' });
    for (const n of f.names()) byName.set(n, f);
    return byName;
  }
  if (fs.existsSync(indexFile)) {
    const index = readJson(indexFile);
    const map = isRecord(index) ? index.weight_map : undefined;
    if (!isRecord(map)) throw new CheckpointError(`${indexFile}: no "weight_map" object`);
    const shards = new Map<string, SafetensorsFile>();
    for (const [name, shard] of Object.entries(map)) {
      if (typeof shard !== 'string' || shard.includes('..') || path.isAbsolute(shard)) throw new CheckpointError(`${indexFile}: bad shard file ${JSON.stringify(shard)} for ${name}`);
      let f = shards.get(shard);
      if (!f) {
        const file = path.join(dir, shard);
        if (!fs.existsSync(file)) throw new CheckpointError(`${indexFile} lists shard ${shard}, which is missing from ${dir}`);
        f = readSafetensors(file, { mode: 'lazy' });
        shards.set(shard, f);
      }
      if (!f.has(name)) throw new CheckpointError(`${indexFile} places ${name} in ${shard}, but that file has no such tensor`);
      byName.set(name, f);
    }
    return byName;
  }
  const others = ['pytorch_model.bin', 'pytorch_model.bin.index.json', 'tf_model.h5', 'flax_model.msgpack'].filter((f) => fs.existsSync(path.join(dir, f)));
  if (others.length) {
    throw new CheckpointError(
      `${dir} has only ${others.join(', ')}; aigc reads safetensors weights (model.safetensors). Convert once with Python: ` +
      `\`from transformers import GPT2LMHeadModel; GPT2LMHeadModel.from_pretrained("${dir}").save_pretrained("${dir}-st", safe_serialization=True)\`, ` +
      'or download a revision of the model that has model.safetensors.');
  }
  throw new CheckpointError(`${dir} has no model.safetensors or model.safetensors.index.json`);
}

/** Reads and validates the weights of a GPT-2 checkpoint directory against its config. */
export function loadGpt2Checkpoint(dir: string): LoadedCheckpoint {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new CheckpointError(`model directory ${dir} does not exist`);
  const config = readGpt2Config(dir);
  const files = openWeights(dir);
  const expected = expectedTensors(config);
  const found = new Map<string, string>(); // model name -> name in the file
  const unexpected: string[] = [];
  let lmHead: string | undefined;
  for (const fileName of files.keys()) {
    const name = fileName.startsWith('transformer.') ? fileName.slice('transformer.'.length) : fileName;
    if (IGNORED.test(name)) continue;
    if (name === 'lm_head.weight') { lmHead = fileName; continue; }
    if (!expected.has(name)) { unexpected.push(fileName); continue; }
    if (found.has(name)) { unexpected.push(`${fileName} (a second copy of ${name})`); continue; }
    found.set(name, fileName);
  }
  const problems: string[] = [];
  const shapeOf = (fileName: string) => files.get(fileName)!.info(fileName).shape;
  for (const [name, { shape }] of expected) {
    const fileName = found.get(name);
    if (fileName === undefined) { problems.push(`missing ${name} [${shape.join(', ')}]`); continue; }
    const info = files.get(fileName)!.info(fileName);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      problems.push(`${fileName}: shape [${info.shape.join(', ')}], expected [${shape.join(', ')}] from config.json`);
    }
    if (!['F32', 'F16', 'BF16'].includes(info.dtype)) problems.push(`${fileName}: dtype ${info.dtype}, expected F32, F16 or BF16`);
  }
  if (lmHead !== undefined) {
    const s = shapeOf(lmHead);
    if (s.length !== 2 || s[0] !== config.vocabSize || s[1] !== config.nEmbd) {
      problems.push(`${lmHead}: shape [${s.join(', ')}], expected [${config.vocabSize}, ${config.nEmbd}]`);
    }
  }
  if (problems.length || unexpected.length) {
    // A tensor the config has no place for (say h.11 with n_layer 6) means config.json and the
    // weights disagree: loading the rest would run a different model than the file holds.
    const extra = unexpected.length ? `${problems.length ? '\n  ' : ''}unexpected tensors, not part of this GPT-2: ${unexpected.slice(0, 10).join(', ')}${unexpected.length > 10 ? `, … (${unexpected.length} in all)` : ''}` : '';
    throw new CheckpointError(`${dir}: the weights do not match config.json (GPT-2 with n_layer ${config.nLayer}, n_embd ${config.nEmbd}, vocab ${config.vocabSize}):\n  ${problems.slice(0, 30).join('\n  ')}${problems.length > 30 ? `\n  … and ${problems.length - 30} more` : ''}${extra}`);
  }

  const tensors = new Map<string, Float32Array>();
  for (const [name, { shape, conv1d }] of expected) {
    const fileName = found.get(name)!;
    const data = files.get(fileName)!.getFloat32(fileName, { copy: true });
    tensors.set(name, conv1d ? transpose2d(data, shape[0], shape[1]) : data);
  }
  if (lmHead !== undefined) {
    // A separate LM head is only supported when it equals the embedding (GPT-2 ties them).
    const head = files.get(lmHead)!.getFloat32(lmHead);
    const wte = tensors.get('wte.weight')!;
    for (let i = 0; i < head.length; i++) {
      if (head[i] !== wte[i]) throw new CheckpointError(`${dir}: lm_head.weight differs from wte.weight; aigc's GPT-2 ties the LM head to the token embedding`);
    }
  }
  const rawConfig = readJson(path.join(dir, 'config.json')) as Record<string, unknown>;
  const name = `${typeof rawConfig._name_or_path === 'string' ? rawConfig._name_or_path : ''} ${path.resolve(dir)}`.trim();
  return { source: dir, config, tensors, generation: readGenerationDefaults(dir), name, rawConfig };
}

/** [rows, cols] → [cols, rows]. */
export function transpose2d(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = a[o + c];
  }
  return out;
}
