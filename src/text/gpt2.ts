/**
 * GPT-2 (the architecture of Hugging Face's GPT2LMHeadModel), nanoGPT-style, in one file:
 *
 * - `GPT2Config`, the model hyper-parameters (from a Hugging Face `config.json`, see checkpoint.ts);
 * - `GPT2`, a Module whose parameters are Tensors named as in PyTorch without the
 *   `transformer.` prefix (`wte.weight`, `h.0.attn.c_attn.weight`, ...). Linear weights are held
 *   in nn.Linear's [out, in] layout (Hugging Face stores Conv1D [in, out]; the loader transposes).
 *   The LM head is tied to `wte.weight`.
 * - `forward(ids, B, T, targets?)`: the training forward on Tensor ops with autograd, returning
 *   `{logits, loss}` like nanoGPT.
 * - `forwardCached(cache, ids, T, ...)`: the inference forward over a preallocated KV cache that
 *   calls the backend kernels directly into reused buffers (no per-token allocation), with
 *   weights as fp32, bf16 or int8 (per-row absmax). It gives the same logits as `forward`.
 */
import * as F from '../engine/ops/index.js';
import { backend } from '../engine/backend/index.js';
import type { Backend } from '../engine/backend/types.js';
import { Rng } from '../engine/rng.js';
import { noGrad, Tensor } from '../engine/tensor.js';
import { ConfigError } from '../errors.js';
import { bf16BitsToF32, encodeF32ToBF16 } from '../engine/half.js';
import { panelLength, panelRow, toPanels } from '../engine/panels.js';
import { Module } from '../nn/module.js';
import { loadGpt2Checkpoint, type LoadedCheckpoint } from './checkpoint.js';

export interface GPT2Config {
  /** Tokens in the vocabulary (rows of wte). GPT-2: 50257. */
  vocabSize: number;
  /** Context window: rows of wpe. GPT-2: 1024. */
  nPositions: number;
  /** Width of the residual stream. GPT-2 124M: 768. */
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** Hidden width of the MLP. Default 4·nEmbd. */
  nInner: number;
  layerNormEpsilon: number;
  /** Divide attention scores of layer i by (i + 1) as well (a GPT-2 variant option; default false). */
  scaleAttnByInverseLayerIdx: boolean;
  bosTokenId: number | null;
  eosTokenId: number | null;
}

/** GPT-2 124M. */
export const GPT2_SMALL: GPT2Config = {
  vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12, nInner: 3072,
  layerNormEpsilon: 1e-5, scaleAttnByInverseLayerIdx: false, bosTokenId: 50256, eosTokenId: 50256,
};

/** How the inference path holds the weights of the linear layers and the LM head. */
export type WeightDtype = 'fp32' | 'bf16' | 'int8';
export const WEIGHT_DTYPES: readonly WeightDtype[] = ['fp32', 'bf16', 'int8'];

// -------------------------------------------------------------------------------------------
// Modules (training / reference path)

/**
 * Makes the parameter `name` of `shape`: from loaded weights when there are some (no copy, no
 * random init: loading GPT-2 124M must not first draw 124M random numbers), else initialised.
 */
interface ParamMaker {
  (name: string, shape: number[], init: number | 'ones' | 'zeros'): Tensor;
  /** Inference-only models pack each linear layer as soon as it exists and drop its float32 weight. */
  packNow: WeightDtype | null;
}

function paramMaker(rng: Rng, weights: Map<string, Float32Array> | undefined, packNow: WeightDtype | null): ParamMaker {
  const make = (name: string, shape: number[], init: number | 'ones' | 'zeros'): Tensor => {
    let data = weights?.get(name);
    if (weights && data === undefined) throw new ConfigError(`GPT2: no weights given for ${name}`);
    if (packNow) weights?.delete(name); // inference-only: the caller hands the arrays over; let packed ones be freed
    if (data === undefined) {
      data = new Float32Array(shape.reduce((a, b) => a * b, 1));
      if (init === 'ones') data.fill(1);
      else if (init !== 'zeros') for (let i = 0; i < data.length; i++) data[i] = init * rng.normal();
    }
    return new Tensor(data, shape, true);
  };
  return Object.assign(make, { packNow });
}

/** x · Wᵀ + b with W [out, in] (Hugging Face's Conv1D, transposed at load). */
class GLinear extends Module {
  weight: Tensor; // (out, in); (0, in) once packed by an inference-only model
  bias: Tensor; // (out)
  /** Set by inference-only models. */
  packed: PackedLinear | null = null;
  constructor(make: ParamMaker, name: string, readonly inFeatures: number, readonly outFeatures: number, std: number) {
    super();
    this.weight = make(`${name}.weight`, [outFeatures, inFeatures], std);
    this.bias = make(`${name}.bias`, [outFeatures], 'zeros');
    if (make.packNow) {
      this.packed = packLinear(this.weight.data, this.bias.data, outFeatures, inFeatures, make.packNow, false);
      this.weight = new Tensor(new Float32Array(0), [0, inFeatures]);
    }
  }

  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
}

class GLayerNorm extends Module {
  weight: Tensor; // (C)
  bias: Tensor; // (C)
  constructor(make: ParamMaker, name: string, dim: number, readonly eps: number) {
    super();
    this.weight = make(`${name}.weight`, [dim], 'ones');
    this.bias = make(`${name}.bias`, [dim], 'zeros');
  }

  forward(x: Tensor): Tensor {
    return F.layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/**
 * Dropout as GPT-2 trains with it (embd_pdrop, attn_pdrop and resid_pdrop, one rate here): on
 * the embeddings, the attention probabilities and each residual branch's output, in training
 * mode only. One object shared by the whole model; rate 0 (off) until GPT2.setDropout.
 */
interface DropoutSetting { p: number; rng: Rng | null }

/** The dropout to apply now: the setting when training with a rate > 0, else null. */
function activeDropout(d: DropoutSetting, training: boolean): { p: number; rng: Rng } | null {
  return training && d.p > 0 && d.rng ? { p: d.p, rng: d.rng } : null;
}

function applyDropout(x: Tensor, d: DropoutSetting, training: boolean): Tensor {
  const a = activeDropout(d, training);
  return a ? F.dropout(x, a.p, a.rng, true) : x;
}

class CausalSelfAttention extends Module {
  c_attn: GLinear; // (3C, C): q, k, v projections stacked
  c_proj: GLinear; // (C, C)
  constructor(make: ParamMaker, p: string, readonly cfg: GPT2Config, readonly layerIdx: number, private readonly drop: DropoutSetting) {
    super();
    this.c_attn = new GLinear(make, p + 'c_attn', cfg.nEmbd, 3 * cfg.nEmbd, 0.02);
    this.c_proj = new GLinear(make, p + 'c_proj', cfg.nEmbd, cfg.nEmbd, 0.02 / Math.sqrt(2 * cfg.nLayer));
  }

  forward(x: Tensor, keyMask: ArrayLike<number> | null): Tensor {
    const [B, T, C] = x.shape;
    const H = this.cfg.nHead, D = C / H;
    const qkv = this.c_attn.forward(x); // (B, T, 3C)
    const [q, k, v] = F.split(qkv, C, 2).map((t) => F.permute(F.reshape(t, [B, T, H, D]), [0, 2, 1, 3])); // (B, H, T, D)
    const scale = 1 / Math.sqrt(D) / (this.cfg.scaleAttnByInverseLayerIdx ? this.layerIdx + 1 : 1);
    const dropout = activeDropout(this.drop, this.training);
    const y = F.scaledDotProductAttention(q, k, v, { causal: true, keyMask, scale, dropout }); // (B, H, T, D)
    return applyDropout(this.c_proj.forward(F.reshape(F.permute(y, [0, 2, 1, 3]), [B, T, C])), this.drop, this.training); // (B, T, C)
  }
}

class MLP extends Module {
  c_fc: GLinear; // (nInner, C)
  c_proj: GLinear; // (C, nInner)
  constructor(make: ParamMaker, p: string, cfg: GPT2Config, private readonly drop: DropoutSetting) {
    super();
    this.c_fc = new GLinear(make, p + 'c_fc', cfg.nEmbd, cfg.nInner, 0.02);
    this.c_proj = new GLinear(make, p + 'c_proj', cfg.nInner, cfg.nEmbd, 0.02 / Math.sqrt(2 * cfg.nLayer));
  }

  forward(x: Tensor): Tensor {
    return applyDropout(this.c_proj.forward(F.gelu(this.c_fc.forward(x))), this.drop, this.training);
  }
}

class Block extends Module {
  ln_1: GLayerNorm;
  attn: CausalSelfAttention;
  ln_2: GLayerNorm;
  mlp: MLP;
  constructor(make: ParamMaker, cfg: GPT2Config, i: number, drop: DropoutSetting) {
    super();
    const p = `h.${i}.`;
    this.ln_1 = new GLayerNorm(make, p + 'ln_1', cfg.nEmbd, cfg.layerNormEpsilon);
    this.attn = new CausalSelfAttention(make, p + 'attn.', cfg, i, drop);
    this.ln_2 = new GLayerNorm(make, p + 'ln_2', cfg.nEmbd, cfg.layerNormEpsilon);
    this.mlp = new MLP(make, p + 'mlp.', cfg, drop);
  }

  forward(x: Tensor, keyMask: ArrayLike<number> | null): Tensor {
    x = F.add(x, this.attn.forward(this.ln_1.forward(x), keyMask)); // (B, T, C)
    return F.add(x, this.mlp.forward(this.ln_2.forward(x)));
  }
}

/** A lookup table as a module (so its parameter is named `wte.weight`). */
class GEmbedding extends Module {
  weight: Tensor; // (num, C)
  constructor(make: ParamMaker, name: string, num: number, dim: number, std: number) {
    super();
    this.weight = make(`${name}.weight`, [num, dim], std);
  }

  lookup(ids: ArrayLike<number>, shape: number[]): Tensor {
    return F.embedding(this.weight, ids, shape);
  }
}

export interface GPT2Options {
  /**
   * Keep only what inference needs: with dtype bf16/int8 each linear layer (and the LM head /
   * token embedding) is converted as it is created and its float32 copy dropped, so memory is
   * about that of the converted weights. The training forward is then unavailable. Default false.
   */
  inferenceOnly?: boolean;
  /** Seed of the random initialisation (GPT-2's: N(0, 0.02), residual projections scaled by 1/√(2·nLayer)). Default 0. */
  seed?: number;
  /** Weight format of the inference path. Default 'fp32'. */
  dtype?: WeightDtype;
}

export interface FromPretrainedOptions {
  /** Weight format of the inference path. Default 'fp32'. */
  dtype?: WeightDtype;
  /** See GPT2Options.inferenceOnly. Default false. */
  inferenceOnly?: boolean;
}

export interface ForwardOptions {
  /** Next-token targets (B·T), -1 to ignore a position. With them the result has a mean cross-entropy loss. */
  targets?: ArrayLike<number>;
  /** (B·T) 1 for real tokens, 0 for (left) padding: padding is hidden from attention and skipped by position ids. */
  attentionMask?: ArrayLike<number>;
}

/** One cache's share of a batched decode step: the next token of each of its rows. */
export interface DecodeSegment {
  cache: KVCache;
  ids: ArrayLike<number>;
}

/** A cache's new tokens inside a forward (checked). */
interface Part {
  cache: KVCache;
  ids: ArrayLike<number>;
  mask: ArrayLike<number> | null;
}

export interface CachedForwardOptions {
  /** (B·T) 1 for real tokens, 0 for padding (left padding of prompts). Default all 1. */
  attentionMask?: ArrayLike<number>;
  /** Return logits for all T new positions (B, T, V) instead of only the last one (B, V). Default false. */
  allLogits?: boolean;
}

// -------------------------------------------------------------------------------------------
// Inference weights and buffers

/**
 * One linear layer as the inference path holds it: W [out, in] in the row-panel layout the
 * backend's linear kernels stream (engine/panels.ts) as fp32, bf16 or int8 — or, for an fp32
 * model that can still train, the parameter itself (row-major, shared, run by matmul).
 */
interface PackedLinear {
  out: number;
  in: number;
  bias: Float32Array | null;
  f32Shared?: Float32Array;
  f32?: Float32Array;
  bf16?: Uint16Array;
  i8?: Int8Array;
  scales?: Float32Array;
}

/** Packs W [out, in] as `dtype`; `share` keeps an fp32 W as the given array (no copy). */
function packLinear(w: Float32Array, bias: Float32Array | null, out: number, inF: number, dtype: WeightDtype, share: boolean): PackedLinear {
  if (dtype === 'fp32') return share ? { out, in: inF, bias, f32Shared: w } : { out, in: inF, bias, f32: panelsOf(w, out, inF) };
  if (dtype === 'bf16') return { out, in: inF, bias, bf16: panelsOf(encodeF32ToBF16(w), out, inF) };
  // int8: symmetric per output row, scale = max|w| / 127.
  const i8 = new Int8Array(out * inF);
  const scales = new Float32Array(out);
  for (let r = 0; r < out; r++) {
    const o = r * inF;
    let m = 0;
    for (let c = 0; c < inF; c++) m = Math.max(m, Math.abs(w[o + c]));
    const s = m > 0 ? m / 127 : 1;
    scales[r] = s;
    const inv = 1 / s;
    for (let c = 0; c < inF; c++) i8[o + c] = Math.round(w[o + c] * inv);
  }
  return { out, in: inF, bias, i8: panelsOf(i8, out, inF), scales };
}

/** The row-panel copy of W, carved from the streamed-weights arena. */
function panelsOf<T extends Float32Array | Uint16Array | Int8Array>(w: T, out: number, inF: number): T {
  const ctor = w.constructor as new (buf: ArrayBuffer, offset: number, len: number) => T;
  const len = panelLength(out, inF, w.BYTES_PER_ELEMENT);
  const { buffer, offset } = streamedArena.alloc(len * w.BYTES_PER_ELEMENT);
  return toPanels(w, out, inF, new ctor(buffer, offset, len));
}

/**
 * Inference weights come from 64 MiB slabs (a larger matrix gets its own) that the backend may
 * back with huge pages before they are written: every weight then streams from 2 MiB pages
 * (~5% more read bandwidth measured here), not just the 2 MiB-aligned middle of big matrices.
 * A slab is freed when no model holds a view of it any more.
 */
const SLAB_BYTES = 64 << 20;
const streamedArena = {
  slab: null as ArrayBuffer | null,
  used: 0,
  alloc(bytes: number): { buffer: ArrayBuffer; offset: number } {
    const size = Math.ceil(bytes / 64) * 64; // views stay 64-byte aligned
    if (size > SLAB_BYTES / 4) return { buffer: this.fresh(size), offset: 0 };
    if (!this.slab || this.used + size > SLAB_BYTES) { this.slab = this.fresh(SLAB_BYTES); this.used = 0; }
    const offset = this.used;
    this.used += size;
    return { buffer: this.slab, offset };
  },
  fresh(bytes: number): ArrayBuffer {
    const buf = new ArrayBuffer(bytes);
    backend().adviseStreamed?.(new Uint8Array(buf));
    return buf;
  },
};

/** y (m × out) = x (m × in) · Wᵀ + bias, on the backend kernels. */
function runLinear(be: Backend, p: PackedLinear, x: Float32Array, y: Float32Array, m: number): void {
  if (p.f32Shared) {
    if (p.bias) for (let i = 0; i < m; i++) y.set(p.bias, i * p.out);
    be.matmul(x, p.f32Shared, y, 1, m, p.out, p.in, false, true, 0, 0, 0, p.bias !== null);
  } else if (p.f32) {
    be.linearF32(x, p.f32, p.bias, y, m, p.out, p.in);
  } else if (p.bf16) {
    be.linearBf16(x, p.bf16, p.bias, y, m, p.out, p.in);
  } else {
    be.linearInt8(x, p.i8!, p.scales!, p.bias, y, m, p.out, p.in);
  }
}

interface PackedLayer {
  ln1g: Float32Array; ln1b: Float32Array;
  attn: PackedLinear; proj: PackedLinear;
  ln2g: Float32Array; ln2b: Float32Array;
  fc: PackedLinear; fc2: PackedLinear;
}

interface PackedModel {
  dtype: WeightDtype;
  layers: PackedLayer[];
  lnfG: Float32Array; lnfB: Float32Array;
  lmHead: PackedLinear;
}

/** Scratch buffers for a chunk of up to `rows` (= B·T) new tokens; grown on demand, reused otherwise. */
class Workspace {
  rows = 0;
  x!: Float32Array; // (rows, C) residual stream
  h!: Float32Array; // (rows, C) normalised
  qkv!: Float32Array; // (rows, 3C)
  att!: Float32Array; // (rows, C) attention output, heads merged
  fc!: Float32Array; // (rows, nInner)
  mean!: Float32Array;
  rstd!: Float32Array;
  q!: Float32Array; // (B, H, T, D)
  y!: Float32Array; // (B, H, T, D)
  scores = new Float32Array(0); // (B, H, T, Tk)
  logits = new Float32Array(0); // (rows or B, V)
  positions = new Int32Array(0);

  ensure(rows: number, cfg: GPT2Config): void {
    if (rows <= this.rows) return;
    const C = cfg.nEmbd;
    this.rows = rows;
    this.x = new Float32Array(rows * C);
    this.h = new Float32Array(rows * C);
    this.qkv = new Float32Array(rows * 3 * C);
    this.att = new Float32Array(rows * C);
    this.fc = new Float32Array(rows * cfg.nInner);
    this.mean = new Float32Array(rows);
    this.rstd = new Float32Array(rows);
    this.q = new Float32Array(rows * C);
    this.y = new Float32Array(rows * C);
    this.positions = new Int32Array(rows);
  }

  /** A buffer of at least n floats (grown, never shrunk). */
  scoresFor(n: number): Float32Array {
    if (this.scores.length < n) this.scores = new Float32Array(n);
    return this.scores;
  }

  logitsFor(n: number): Float32Array {
    if (this.logits.length < n) this.logits = new Float32Array(n);
    return this.logits;
  }
}

/**
 * The keys and values of every layer for `batch` sequences of up to `capacity` positions,
 * allocated once. All rows advance together (row b's token t sits at column t); a per-row key
 * mask hides left padding, and per-row position counters skip it.
 */
export class KVCache {
  /** Columns filled so far. */
  length = 0;
  /** Per layer (batch, nHead, capacity, headDim). */
  readonly k: Float32Array[];
  readonly v: Float32Array[];
  /** (batch, capacity): 1 where the column holds a real token. */
  readonly keyMask: Uint8Array;
  /** Next position id of each row (counts only real tokens). */
  readonly nextPosition: Int32Array;
  /** True once any padding has been written: attention then needs the key mask. */
  hasPadding = false;
  /** Per row, the columns holding padding (so masking visits only those). */
  padColumns: number[][];
  readonly work = new Workspace();
  private reorderScratch: Float32Array | undefined;

  constructor(readonly cfg: GPT2Config, readonly batch: number, readonly capacity: number) {
    const n = batch * cfg.nEmbd * capacity; // nHead · headDim = nEmbd
    this.k = Array.from({ length: cfg.nLayer }, () => new Float32Array(n));
    this.v = Array.from({ length: cfg.nLayer }, () => new Float32Array(n));
    this.keyMask = new Uint8Array(batch * capacity);
    this.nextPosition = new Int32Array(batch);
    this.padColumns = Array.from({ length: batch }, () => []);
  }

  /** Forget everything (the buffers are kept). */
  reset(): void {
    this.length = 0;
    this.keyMask.fill(0);
    this.nextPosition.fill(0);
    this.hasPadding = false;
    for (const p of this.padColumns) p.length = 0;
  }

  /**
   * Reorders the rows: row i becomes a copy of old row `src[i]` (beam search). Only the first
   * `length` columns are copied.
   */
  reorder(src: ArrayLike<number>): void {
    if (src.length !== this.batch) throw new ConfigError(`KVCache.reorder: ${src.length} rows given, the cache has ${this.batch}`);
    let identity = true;
    for (let i = 0; i < src.length; i++) if (src[i] !== i) identity = false;
    if (identity) return;
    const rowSize = this.cfg.nEmbd * this.capacity;
    const H = this.cfg.nHead, D = this.cfg.nEmbd / H;
    const tmp = (this.reorderScratch ??= new Float32Array(rowSize * this.batch)); // reused across steps
    const copyLen = this.length * D;
    for (const buf of [...this.k, ...this.v]) {
      tmp.set(buf);
      for (let i = 0; i < this.batch; i++) {
        if (src[i] === i) continue;
        for (let h = 0; h < H; h++) {
          const from = src[i] * rowSize + h * this.capacity * D;
          const to = i * rowSize + h * this.capacity * D;
          buf.set(tmp.subarray(from, from + copyLen), to);
        }
      }
    }
    const mask = this.keyMask.slice();
    const pos = this.nextPosition.slice();
    this.padColumns = Array.from(src, (s) => [...this.padColumns[s]]);
    for (let i = 0; i < this.batch; i++) {
      this.keyMask.set(mask.subarray(src[i] * this.capacity, (src[i] + 1) * this.capacity), i * this.capacity);
      this.nextPosition[i] = pos[src[i]];
    }
  }
}

// -------------------------------------------------------------------------------------------
// The model

export class GPT2 extends Module {
  wte: GEmbedding; // (V, C), also the LM head
  wpe: GEmbedding; // (nPositions, C)
  h: Block[];
  ln_f: GLayerNorm;
  private packed: PackedModel | null = null;
  /** The stacked rows of forwardDecodeMany (each cache keeps its own Workspace otherwise). */
  private batchWork: Workspace | null = null;
  private dtypeWanted: WeightDtype;
  /** Inference-only models: the LM head, packed at construction. */
  private lmHeadPacked: PackedLinear | null = null;
  readonly inferenceOnly: boolean;
  /** Shared with every block; see DropoutSetting. */
  private readonly drop: DropoutSetting = { p: 0, rng: null };

  /**
   * A GPT-2 with GPT-2's initialisation (N(0, 0.02), residual projections N(0, 0.02/√(2·nLayer)),
   * zero biases, unit layer-norm gains) from `opts.seed`, or with the given `weights` (by the
   * model's parameter names, [out, in] layout; the arrays are used, not copied).
   */
  constructor(readonly config: GPT2Config, opts: GPT2Options & { weights?: Map<string, Float32Array> } = {}) {
    super();
    validateConfig(config);
    this.dtypeWanted = opts.dtype ?? 'fp32';
    if (!WEIGHT_DTYPES.includes(this.dtypeWanted)) throw new ConfigError(`dtype must be one of ${WEIGHT_DTYPES.join(', ')}, got "${this.dtypeWanted}"`);
    this.inferenceOnly = opts.inferenceOnly ?? false;
    const make = paramMaker(new Rng(opts.seed ?? 0), opts.weights, this.inferenceOnly ? this.dtypeWanted : null);
    const c = config;
    this.wte = new GEmbedding(make, 'wte', c.vocabSize, c.nEmbd, 0.02);
    if (this.inferenceOnly) {
      this.lmHeadPacked = packLinear(this.wte.weight.data, null, c.vocabSize, c.nEmbd, this.dtypeWanted, false);
      // The embedding lookup then reads (and dequantizes) rows of the packed LM head.
      this.wte.weight = new Tensor(new Float32Array(0), [0, c.nEmbd]);
    }
    this.wpe = new GEmbedding(make, 'wpe', c.nPositions, c.nEmbd, 0.02);
    this.h = Array.from({ length: c.nLayer }, (_, i) => new Block(make, c, i, this.drop));
    this.ln_f = new GLayerNorm(make, 'ln_f', c.nEmbd, c.layerNormEpsilon);
  }

  /**
   * Loads a Hugging Face GPT2LMHeadModel directory (config.json + model.safetensors or a
   * sharded index; F32, F16 or BF16). Every tensor name and shape is checked against the config.
   */
  static fromPretrained(dir: string, opts: FromPretrainedOptions = {}): GPT2 {
    return GPT2.fromCheckpoint(loadGpt2Checkpoint(dir), opts);
  }

  static fromCheckpoint(ckpt: LoadedCheckpoint, opts: FromPretrainedOptions = {}): GPT2 {
    return new GPT2(ckpt.config, { dtype: opts.dtype, inferenceOnly: opts.inferenceOnly, weights: ckpt.tensors });
  }

  /**
   * Training dropout (GPT-2's embd/attn/resid_pdrop) at rate p, its masks drawn from `rng`; it
   * applies in training mode only. p = 0 turns it off. Default off.
   */
  setDropout(p: number, rng: Rng | null = null): void {
    if (!(p >= 0 && p < 1)) throw new ConfigError(`dropout must be in [0, 1), got ${p}`);
    if (p > 0 && !rng) throw new ConfigError('dropout needs an Rng for its masks');
    this.drop.p = p;
    this.drop.rng = rng;
  }

  get dtype(): WeightDtype {
    return this.dtypeWanted;
  }

  /** Switches the inference weight format (re-packed on the next cached forward). */
  setDtype(dtype: WeightDtype): void {
    if (!WEIGHT_DTYPES.includes(dtype)) throw new ConfigError(`dtype must be one of ${WEIGHT_DTYPES.join(', ')}, got "${dtype}"`);
    if (this.inferenceOnly && dtype !== this.dtypeWanted) {
      throw new ConfigError(`this model was loaded inference-only as ${this.dtypeWanted}; its float32 weights are gone, so it cannot switch to ${dtype}`);
    }
    if (dtype !== this.dtypeWanted) this.packed = null;
    this.dtypeWanted = dtype;
  }

  /**
   * Drops the packed inference weights, so the next cached forward re-reads the parameters.
   * Call after changing parameters when dtype is bf16/int8 (an fp32 model that can train runs on
   * its parameters directly).
   */
  invalidateInferenceWeights(): void {
    this.packed = null;
  }

  // ---- training forward (autograd) ---------------------------------------------------------

  /**
   * ids (B·T) → logits (B, T, V), and with targets the mean cross-entropy loss (targets -1 are
   * ignored). Left padding (attentionMask 0) is hidden from attention; position ids count only
   * real tokens, as Hugging Face generate() does.
   */
  forward(ids: ArrayLike<number>, B: number, T: number, opts: ForwardOptions = {}): { logits: Tensor; loss: Tensor | null } {
    const x = this.hidden(ids, B, T, opts); // (B, T, C)
    const logits = F.linear(x, this.wte.weight); // (B, T, V)
    const loss = opts.targets ? F.crossEntropy(F.reshape(logits, [B * T, this.config.vocabSize]), opts.targets, { ignoreIndex: -1 }) : null;
    return { logits, loss };
  }

  /**
   * The final hidden states ln_f(blocks(wte[ids] + wpe[pos])), (B, T, C): the training forward
   * up to the LM head (a trainer puts its own fused LM head + loss after it).
   */
  hidden(ids: ArrayLike<number>, B: number, T: number, opts: { attentionMask?: ArrayLike<number> } = {}): Tensor {
    const c = this.config;
    if (this.inferenceOnly) throw new ConfigError('GPT2.forward: this model was loaded inference-only (no float32 weights); load it without inferenceOnly to train');
    if (ids.length !== B * T) throw new ConfigError(`GPT2.forward: ${ids.length} ids do not fit B=${B} × T=${T}`);
    if (T > c.nPositions) throw new ConfigError(`GPT2.forward: sequence of ${T} tokens exceeds the context window of ${c.nPositions}`);
    const mask = opts.attentionMask ?? null;
    const pos = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      let p = 0;
      for (let t = 0; t < T; t++) pos[b * T + t] = mask && mask[b * T + t] === 0 ? 1 : p++;
    }
    let x = applyDropout(F.add(this.wte.lookup(ids, [B, T]), this.wpe.lookup(pos, [B, T])), this.drop, this.training); // (B, T, C)
    for (const block of this.h) x = block.forward(x, mask);
    return this.ln_f.forward(x);
  }

  // ---- cached inference forward ------------------------------------------------------------

  /** A KV cache for `batch` rows of up to `capacity` positions (default: the context window). */
  newCache(batch: number, capacity = this.config.nPositions): KVCache {
    if (!Number.isInteger(batch) || batch < 1) throw new ConfigError(`batch must be a positive integer, got ${batch}`);
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > this.config.nPositions) {
      throw new ConfigError(`KV cache capacity must be between 1 and the context window ${this.config.nPositions}, got ${capacity}`);
    }
    return new KVCache(this.config, batch, capacity);
  }

  /**
   * The weight matrices one cached forward step reads, in the order it reads them (per layer:
   * attention in, attention out, MLP in, MLP out; then the LM head) and in the form it reads
   * them (row panels, or the shared fp32 matrices of a trainable model). A decode step streams
   * each of them once: `aigc bench generate` times a read-only pass over exactly these bytes.
   */
  streamedWeights(): ArrayBufferView[] {
    const W = this.packedWeights();
    const view = (p: PackedLinear): ArrayBufferView => (p.f32Shared ?? p.f32 ?? p.bf16 ?? p.i8)!;
    return [...W.layers.flatMap((L) => [L.attn, L.proj, L.fc, L.fc2].map(view)), view(W.lmHead)];
  }

  private packedWeights(): PackedModel {
    if (this.packed && this.packed.dtype === this.dtypeWanted) return this.packed;
    const c = this.config, dt = this.dtypeWanted;
    const lin = (l: GLinear) => l.packed ?? packLinear(l.weight.data, l.bias.data, l.outFeatures, l.inFeatures, dt, true);
    this.packed = {
      dtype: dt,
      layers: this.h.map((b) => ({
        ln1g: b.ln_1.weight.data, ln1b: b.ln_1.bias.data,
        attn: lin(b.attn.c_attn), proj: lin(b.attn.c_proj),
        ln2g: b.ln_2.weight.data, ln2b: b.ln_2.bias.data,
        fc: lin(b.mlp.c_fc), fc2: lin(b.mlp.c_proj),
      })),
      lnfG: this.ln_f.weight.data, lnfB: this.ln_f.bias.data,
      lmHead: this.lmHeadPacked ?? packLinear(this.wte.weight.data, null, c.vocabSize, c.nEmbd, dt, true),
    };
    return this.packed;
  }

  /**
   * Appends T tokens to each of the cache's B rows (ids is (B·T), row-major) and returns the
   * logits of the last new position (B, V) — or of all T (B, T, V) with `allLogits`. The result
   * is a view of a buffer the cache reuses: it is valid until the next call with this cache.
   */
  forwardCached(cache: KVCache, ids: ArrayLike<number>, T: number, opts: CachedForwardOptions = {}): Float32Array {
    return noGrad(() => this.runCached(cache, ids, T, opts));
  }

  /**
   * One decode step (one new token per row) for several caches at once, e.g. the concurrent
   * generations of a server: the linears, norms and LM head run once over all their rows (so
   * the weights stream once per step, not once per cache), attention per cache at its own
   * length. Returns, per segment, its logits (batch, V) in its cache's buffer (valid until the
   * next call with that cache): the same numbers forwardCached(cache, ids, 1) gives.
   */
  forwardDecodeMany(segments: readonly DecodeSegment[]): Float32Array[] {
    return noGrad(() => {
      if (segments.length === 1) return [this.runCached(segments[0].cache, segments[0].ids, 1, {})];
      if (new Set(segments.map((s) => s.cache)).size !== segments.length) throw new ConfigError('forwardDecodeMany: a cache appears twice');
      const parts = segments.map((s) => this.checkedPart(s.cache, s.ids, 1, null));
      this.batchWork ??= new Workspace();
      const logits = this.runParts(parts, 1, this.batchWork, false);
      const V = this.config.vocabSize;
      let o = 0;
      return parts.map(({ cache }) => {
        const n = cache.batch * V, out = cache.work.logitsFor(n).subarray(0, n);
        out.set(logits.subarray(o, o + n));
        o += n;
        return out;
      });
    });
  }

  private runCached(cache: KVCache, ids: ArrayLike<number>, T: number, opts: CachedForwardOptions): Float32Array {
    return this.runParts([this.checkedPart(cache, ids, T, opts.attentionMask ?? null)], T, cache.work, opts.allLogits ?? false);
  }

  /** Checks a cache's new tokens before anything is written: ids, mask, capacity, positions. */
  private checkedPart(cache: KVCache, ids: ArrayLike<number>, T: number, mask: ArrayLike<number> | null): Part {
    const c = this.config, B = cache.batch, rows = B * T, V = c.vocabSize;
    if (ids.length !== rows) throw new ConfigError(`forwardCached: ${ids.length} ids do not fit ${B} rows × ${T} tokens`);
    if (cache.length + T > cache.capacity) throw new ConfigError(`forwardCached: ${cache.length + T} positions exceed the KV cache capacity of ${cache.capacity} (context window ${c.nPositions})`);
    if (mask && mask.length !== rows) throw new ConfigError(`forwardCached: attention mask has ${mask.length} entries, want ${rows}`);
    for (let b = 0; b < B; b++) {
      let real = 0;
      for (let t = 0; t < T; t++) {
        const id = ids[b * T + t];
        if (!Number.isInteger(id) || id < 0 || id >= V) throw new ConfigError(`token id ${id} is outside the vocabulary of ${V}`);
        if (mask === null || mask[b * T + t] !== 0) real++;
      }
      const last = cache.nextPosition[b] + real - 1; // padding takes position 1, always inside
      if (last >= c.nPositions) throw new ConfigError(`position ${last} exceeds the context window of ${c.nPositions}`);
    }
    return { cache, ids, mask };
  }

  /**
   * The cached forward over parts (caches) whose rows are stacked in `ws`: T new tokens per row.
   * T > 1 (prefill) takes one part; decode (T = 1) any number, each attending over its own cache.
   */
  private runParts(parts: readonly Part[], T: number, ws: Workspace, allLogits: boolean): Float32Array {
    const c = this.config, be = backend(), W = this.packedWeights();
    const C = c.nEmbd, H = c.nHead, D = C / H, V = c.vocabSize;
    if (T > 1 && parts.length !== 1) throw new Error('runParts: a multi-token forward takes one cache');
    const first = parts.map(() => 0);
    let rows = 0;
    parts.forEach((p, i) => { first[i] = rows; rows += p.cache.batch * T; });
    ws.ensure(rows, c);
    const { x, h, qkv, att, fc, mean, rstd, q, y } = ws;

    // Embeddings; position ids count real tokens only (padding gets position 1, as HF does).
    const wte = this.wte.weight.data, wpe = this.wpe.weight.data;
    parts.forEach(({ cache, ids, mask }, i) => {
      const cap = cache.capacity, L0 = cache.length;
      for (let b = 0; b < cache.batch; b++) {
        for (let t = 0; t < T; t++) {
          const r = b * T + t, id = ids[r];
          const real = mask === null || mask[r] !== 0;
          const p = real ? cache.nextPosition[b]++ : 1;
          cache.keyMask[b * cap + L0 + t] = real ? 1 : 0;
          if (!real) { cache.hasPadding = true; cache.padColumns[b].push(L0 + t); }
          const xo = (first[i] + r) * C, eo = id * C, po = p * C;
          if (wte.length) for (let j = 0; j < C; j++) x[xo + j] = wte[eo + j] + wpe[po + j];
          else embedFromPacked(W.lmHead, id, x, xo, wpe, po);
        }
      }
    });

    // Prefill (T > 1) names its one cache.
    const { cache } = parts[0];
    const B = cache.batch, cap = cache.capacity, L0 = cache.length, Tk = L0 + T;
    const scores = T > 1 ? ws.scoresFor(B * H * Math.min(T, ATTN_BLOCK) * Tk) : ws.scores;
    for (let l = 0; l < c.nLayer; l++) {
      const Lw = W.layers[l];
      const K = cache.k[l], Vc = cache.v[l];
      const scale = 1 / Math.sqrt(D) / (c.scaleAttnByInverseLayerIdx ? l + 1 : 1);
      be.layerNormForward(x, Lw.ln1g, Lw.ln1b, h, mean, rstd, rows, C, c.layerNormEpsilon);
      runLinear(be, Lw.attn, h, qkv, rows); // (rows, 3C)
      if (T === 1) {
        // Decode: per cache, one fused kernel appends k, v and writes its rows of att (rows, C).
        parts.forEach(({ cache: pc }, i) => {
          const o = first[i], n = pc.batch;
          be.attentionDecode(qkv.subarray(o * 3 * C, (o + n) * 3 * C), pc.k[l], pc.v[l], att.subarray(o * C, (o + n) * C),
            pc.hasPadding ? pc.keyMask : null, n, H, D, pc.capacity, pc.length, scale);
        });
      } else {
        // Scatter q (scaled) into (B, H, T, D); k and v into the cache at columns L0..L0+T.
        for (let b = 0; b < B; b++) {
          for (let t = 0; t < T; t++) {
            const src = (b * T + t) * 3 * C;
            for (let hh = 0; hh < H; hh++) {
              const qo = ((b * H + hh) * T + t) * D;
              const ko = ((b * H + hh) * cap + L0 + t) * D;
              const so = src + hh * D;
              for (let d = 0; d < D; d++) {
                q[qo + d] = qkv[so + d] * scale;
                K[ko + d] = qkv[so + C + d];
                Vc[ko + d] = qkv[so + 2 * C + d];
              }
            }
          }
        }
        // Queries in blocks: block [t0, t1) only needs keys before L0 + t1 (causal), which skips
        // about half of a long prompt's attention work and keeps the scores buffer small.
        for (let t0 = 0; t0 < T; t0 += ATTN_BLOCK) {
          const m = Math.min(ATTN_BLOCK, T - t0), kLen = L0 + t0 + m;
          // scores (B·H, m, kLen) = q[t0:t1] · Kᵀ over the first kLen columns of the cache.
          be.matmul(q.subarray(t0 * D), K, scores, B * H, m, kLen, D, false, true, T * D, cap * D, m * kLen, false);
          if (m > 1 || cache.hasPadding) {
            for (let b = 0; b < B; b++) {
              const pads = cache.padColumns[b];
              for (let hh = 0; hh < H; hh++) {
                for (let i = 0; i < m; i++) {
                  const row = ((b * H + hh) * m + i) * kLen, self = L0 + t0 + i;
                  if (self + 1 < kLen) scores.fill(-Infinity, row + self + 1, row + kLen); // causal
                  // Padding keys; a padding query still sees itself, so no row is empty (its output is never used).
                  for (let k = 0; k < pads.length && pads[k] < self; k++) scores[row + pads[k]] = -Infinity;
                }
              }
            }
          }
          be.softmaxForward(scores, scores, B * H * m, kLen);
          // y[:, :, t0:t1] (B·H, m, D) = P · V
          be.matmul(scores, Vc, y.subarray(t0 * D), B * H, m, D, kLen, false, false, m * kLen, cap * D, T * D, false);
        }
        for (let b = 0; b < B; b++) {
          for (let hh = 0; hh < H; hh++) {
            for (let t = 0; t < T; t++) {
              const yo = ((b * H + hh) * T + t) * D, ao = (b * T + t) * C + hh * D;
              for (let d = 0; d < D; d++) att[ao + d] = y[yo + d];
            }
          }
        }
      }
      runLinear(be, Lw.proj, att, h, rows);
      for (let i = 0; i < rows * C; i++) x[i] += h[i];
      be.layerNormForward(x, Lw.ln2g, Lw.ln2b, h, mean, rstd, rows, C, c.layerNormEpsilon);
      const fcv = fc.subarray(0, rows * c.nInner);
      runLinear(be, Lw.fc, h, fcv, rows);
      be.geluForward(fcv, fcv);
      runLinear(be, Lw.fc2, fcv, h, rows);
      for (let i = 0; i < rows * C; i++) x[i] += h[i];
    }
    for (const p of parts) p.cache.length += T;

    // Final norm and LM head: only the last position of each row unless all are asked for.
    const outRows = allLogits || T === 1 ? rows : B;
    if (!allLogits && T > 1) {
      // Gather each row's last position into rows 0..B-1 (in order: a source is never overwritten first).
      for (let b = 0; b < B; b++) x.copyWithin(b * C, (b * T + T - 1) * C, (b * T + T) * C);
    }
    be.layerNormForward(x, W.lnfG, W.lnfB, h, mean, rstd, outRows, C, c.layerNormEpsilon);
    const logits = ws.logitsFor(outRows * V).subarray(0, outRows * V);
    runLinear(be, W.lmHead, h, logits, outRows);
    return logits;
  }
}

/** Query rows per attention block in a multi-token (prefill) forward. */
const ATTN_BLOCK = 64;

/** x[xo..] = row `id` of a packed LM head (the tied token embedding), dequantized, + wpe[po..]. */
function embedFromPacked(p: PackedLinear, id: number, x: Float32Array, xo: number, wpe: Float32Array, po: number): void {
  const C = p.in, row = x.subarray(xo, xo + C);
  if (p.bf16) {
    panelRow(p.bf16, id, C, row); // the bf16 bits, as numbers
    for (let j = 0; j < C; j++) row[j] = bf16BitsToF32(row[j]) + wpe[po + j];
  } else if (p.i8) {
    const s = p.scales![id];
    panelRow(p.i8, id, C, row);
    for (let j = 0; j < C; j++) row[j] = row[j] * s + wpe[po + j];
  } else {
    panelRow(p.f32!, id, C, row);
    for (let j = 0; j < C; j++) row[j] += wpe[po + j];
  }
}

function validateConfig(c: GPT2Config): void {
  const ints: (keyof GPT2Config)[] = ['vocabSize', 'nPositions', 'nEmbd', 'nLayer', 'nHead', 'nInner'];
  for (const k of ints) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ConfigError(`GPT-2 config: ${k} must be a positive integer, got ${String(v)}`);
  }
  if (c.nEmbd % c.nHead !== 0) throw new ConfigError(`GPT-2 config: n_embd ${c.nEmbd} is not divisible by n_head ${c.nHead}`);
  if (!(c.layerNormEpsilon > 0)) throw new ConfigError(`GPT-2 config: layer_norm_epsilon must be positive, got ${c.layerNormEpsilon}`);
}
