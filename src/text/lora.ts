/**
 * LoRA (low-rank adaptation) for GPT-2's linear layers.
 *
 * A target Linear W (out × in) is replaced by a LoraLinear that keeps W frozen and adds
 * `(alpha / r) · B · A · x` with A (r × in, Kaiming-uniform as PEFT) and B (out × r, zeros), so
 * training starts from the base model exactly. Only A and B are trained.
 *
 * Adapters are saved in PEFT's format (`adapter_config.json`, `adapter_model.safetensors` with
 * `base_model.model.transformer.h.N.attn.c_attn.lora_A.weight` names, fan_in_fan_out for GPT-2's
 * Conv1D), and can be merged into the base weights: W += (alpha / r) · B · A.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as F from '../engine/ops/index.js';
import { Rng } from '../engine/rng.js';
import { Tensor } from '../engine/tensor.js';
import { CheckpointError, ConfigError } from '../errors.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../io/safetensors.js';
import { Linear } from '../nn/layers.js';
import type { GPT2 } from './gpt2.js';

export interface LoraConfig {
  rank: number;
  alpha: number;
  /** Module names as PEFT matches them: c_attn, c_proj (both attn.c_proj and mlp.c_proj), c_fc, attn.c_proj, mlp.c_proj. */
  targets: string[];
}

export const LORA_TARGETS = ['c_attn', 'c_proj', 'c_fc', 'attn.c_proj', 'mlp.c_proj'] as const;

export class LoraLinear extends Linear {
  lora_A: Tensor; // (r, in)
  lora_B: Tensor; // (out, r)
  readonly scaling: number;

  /** The wrapped layer (a private field, so it is not a child module with duplicate parameter names). */
  readonly #base: Linear;

  constructor(base: Linear, readonly rank: number, readonly alpha: number, rng: Rng) {
    super(1, 1, { bias: false });
    this.#base = base;
    Object.assign(this, { inFeatures: base.inFeatures, outFeatures: base.outFeatures });
    this.weight = base.weight;
    this.bias = base.bias;
    this.weight.requiresGrad = false;
    if (this.bias) this.bias.requiresGrad = false;
    const bound = 1 / Math.sqrt(base.inFeatures); // kaiming_uniform(a=√5) as nn.Linear / PEFT
    this.lora_A = new Tensor(rng.fillUniform(new Float32Array(rank * base.inFeatures), -bound, bound), [rank, base.inFeatures], true);
    this.lora_B = Tensor.zeros([base.outFeatures, rank], true);
    this.scaling = alpha / rank;
  }

  get base(): Linear {
    return this.#base;
  }

  override forward(x: Tensor): Tensor {
    const y = F.linear(x, this.weight, this.bias);
    const low = F.linear(F.linear(x, this.lora_A), this.lora_B);
    return F.add(y, this.scaling === 1 ? low : F.scale(low, this.scaling));
  }

  /** W + scaling · B·A, as a new array ([out, in]). */
  mergedWeight(): Float32Array {
    const out = this.outFeatures, inF = this.inFeatures, r = this.rank;
    const w = this.weight.data.slice();
    const A = this.lora_A.data, B = this.lora_B.data, s = this.scaling;
    for (let o = 0; o < out; o++) {
      for (let k = 0; k < r; k++) {
        const b = B[o * r + k] * s;
        if (b === 0) continue;
        const ao = k * inF, wo = o * inF;
        for (let i = 0; i < inF; i++) w[wo + i] += b * A[ao + i];
      }
    }
    return w;
  }
}

/** The (model name, module owner, key) of every linear layer a target list selects. */
function targetSlots(model: GPT2, targets: readonly string[]): { name: string; owner: Record<string, unknown>; key: string }[] {
  for (const t of targets) {
    if (!(LORA_TARGETS as readonly string[]).includes(t)) throw new ConfigError(`LoRA target "${t}" is not a GPT-2 linear layer; choose from ${LORA_TARGETS.join(', ')}`);
  }
  if (targets.length === 0) throw new ConfigError('LoRA needs at least one target module');
  const out: { name: string; owner: Record<string, unknown>; key: string }[] = [];
  model.h.forEach((b, i) => {
    const slots: [string, Record<string, unknown>, string][] = [
      ['attn.c_attn', b.attn as unknown as Record<string, unknown>, 'c_attn'],
      ['attn.c_proj', b.attn as unknown as Record<string, unknown>, 'c_proj'],
      ['mlp.c_fc', b.mlp as unknown as Record<string, unknown>, 'c_fc'],
      ['mlp.c_proj', b.mlp as unknown as Record<string, unknown>, 'c_proj'],
    ];
    for (const [full, owner, key] of slots) {
      if (targets.includes(full) || targets.includes(key)) out.push({ name: `h.${i}.${full}`, owner, key });
    }
  });
  return out;
}

/**
 * Freezes every parameter of the model and wraps the target layers with LoRA. Returns the
 * wrapped layers by model name (`h.0.attn.c_attn`).
 */
export function applyLora(model: GPT2, cfg: LoraConfig, seed = 0): Map<string, LoraLinear> {
  if (!Number.isInteger(cfg.rank) || cfg.rank < 1) throw new ConfigError(`LoRA rank must be a positive integer, got ${cfg.rank}`);
  if (!(cfg.alpha > 0)) throw new ConfigError(`LoRA alpha must be positive, got ${cfg.alpha}`);
  for (const [, p] of model.namedParameters()) p.requiresGrad = false;
  const rng = new Rng(seed);
  const out = new Map<string, LoraLinear>();
  for (const { name, owner, key } of targetSlots(model, cfg.targets)) {
    const base = owner[key];
    if (base instanceof LoraLinear) throw new ConfigError(`LoRA is already applied to ${name}`);
    const lora = new LoraLinear(base as Linear, cfg.rank, cfg.alpha, rng);
    owner[key] = lora;
    out.set(name, lora);
  }
  model.invalidateInferenceWeights();
  return out;
}

/** Folds the adapters into the base weights and puts plain Linear layers back; every parameter becomes trainable again. */
export function mergeLora(model: GPT2): number {
  let n = 0;
  for (const b of model.h) {
    for (const owner of [b.attn, b.mlp] as unknown as Record<string, unknown>[]) {
      for (const key of ['c_attn', 'c_proj', 'c_fc']) {
        const l = owner[key];
        if (l instanceof LoraLinear) {
          l.weight.data.set(l.mergedWeight());
          const plain = l.base;
          plain.weight = l.weight;
          plain.bias = l.bias;
          owner[key] = plain;
          n++;
        }
      }
    }
  }
  for (const [, p] of model.namedParameters()) p.requiresGrad = true;
  model.invalidateInferenceWeights();
  return n;
}

function loraLayers(model: GPT2): [string, LoraLinear][] {
  const out: [string, LoraLinear][] = [];
  model.h.forEach((b, i) => {
    for (const [prefix, owner] of [['attn', b.attn], ['mlp', b.mlp]] as const) {
      for (const key of ['c_attn', 'c_proj', 'c_fc']) {
        const l = (owner as unknown as Record<string, unknown>)[key];
        if (l instanceof LoraLinear) out.push([`h.${i}.${prefix}.${key}`, l]);
      }
    }
  });
  return out;
}

const peftName = (name: string, ab: 'A' | 'B') => `base_model.model.transformer.${name}.lora_${ab}.weight`;

/** The adapter tensors by their PEFT names. */
export function loraTensors(model: GPT2): Record<string, TensorToWrite> {
  const out: Record<string, TensorToWrite> = {};
  for (const [name, l] of loraLayers(model)) {
    out[peftName(name, 'A')] = { dtype: 'F32', shape: [...l.lora_A.shape], data: l.lora_A.data };
    out[peftName(name, 'B')] = { dtype: 'F32', shape: [...l.lora_B.shape], data: l.lora_B.data };
  }
  return out;
}

/** Writes `adapter_config.json` and `adapter_model.safetensors` (PEFT format) into dir. */
export function saveLoraAdapter(dir: string, model: GPT2, cfg: LoraConfig, baseModel: string): void {
  fs.mkdirSync(dir, { recursive: true });
  writeSafetensors(path.join(dir, 'adapter_model.safetensors'), loraTensors(model), { format: 'pt' });
  writeJsonAtomic(path.join(dir, 'adapter_config.json'), {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModel,
    r: cfg.rank,
    lora_alpha: cfg.alpha,
    lora_dropout: 0.0,
    target_modules: cfg.targets,
    fan_in_fan_out: true,
    bias: 'none',
    inference_mode: true,
    modules_to_save: null,
    init_lora_weights: true,
  });
}

export function readLoraConfig(dir: string): LoraConfig & { baseModel: string } {
  const file = path.join(dir, 'adapter_config.json');
  if (!fs.existsSync(file)) throw new CheckpointError(`${dir} has no adapter_config.json: not a LoRA adapter directory`);
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  if (raw.peft_type !== 'LORA') throw new CheckpointError(`${file}: peft_type is ${JSON.stringify(raw.peft_type)}, expected "LORA"`);
  const targets = Array.isArray(raw.target_modules) ? raw.target_modules.map(String) : typeof raw.target_modules === 'string' ? [raw.target_modules] : [];
  return { rank: Number(raw.r), alpha: Number(raw.lora_alpha), targets, baseModel: String(raw.base_model_name_or_path ?? '') };
}

/** Applies LoRA as the adapter directory describes and loads its weights. */
export function loadLoraAdapter(model: GPT2, dir: string): LoraConfig {
  const cfg = readLoraConfig(dir);
  const layers = applyLora(model, cfg);
  const st = readSafetensors(path.join(dir, 'adapter_model.safetensors'));
  for (const [name, l] of layers) {
    for (const [ab, t] of [['A', l.lora_A], ['B', l.lora_B]] as const) {
      const n = peftName(name, ab);
      if (!st.has(n)) throw new CheckpointError(`${dir}/adapter_model.safetensors: missing ${n}`);
      const info = st.info(n);
      if (info.shape.length !== 2 || info.shape[0] !== t.shape[0] || info.shape[1] !== t.shape[1]) {
        throw new CheckpointError(`${dir}/adapter_model.safetensors: ${n} has shape [${info.shape.join(', ')}], the model needs [${t.shape.join(', ')}]`);
      }
      t.data.set(st.getFloat32(n));
    }
  }
  return cfg;
}
