/**
 * Optimizers (SGD, Adam, AdamW) with PyTorch's update rules, gradient clipping by global norm,
 * and learning-rate schedules. Optimizer state (moments, step) round-trips through
 * `stateDict()` / `loadStateDict()` for exact resumes.
 */
import { ConfigError } from '../errors.js';
import { backend } from '../engine/backend/index.js';
import type { Tensor } from '../engine/tensor.js';

export interface ParamGroup {
  params: Tensor[];
  /** Overrides the optimizer's weight decay for this group. */
  weightDecay?: number;
}

export interface OptimizerState {
  step: number;
  /** Per parameter (in group order), named buffers such as m, v or momentum. */
  buffers: Record<string, Float32Array>[];
}

export abstract class Optimizer {
  readonly groups: Required<ParamGroup>[];
  /** Learning rate of the next step; schedules set it before each step. */
  lr: number;
  stepCount = 0;
  protected readonly state: Record<string, Float32Array>[] = [];

  constructor(params: Tensor[] | ParamGroup[], lr: number, defaultDecay: number) {
    if (!(lr >= 0)) throw new ConfigError(`learning rate must be >= 0, got ${lr}`);
    const groups: ParamGroup[] = params.length && 'params' in (params[0] as object) ? (params as ParamGroup[]) : [{ params: params as Tensor[] }];
    this.groups = groups.map((g) => ({ params: g.params, weightDecay: g.weightDecay ?? defaultDecay }));
    this.lr = lr;
  }

  /** Per-parameter state, made on first use (subclass fields are not set yet in this constructor). */
  private ensureState(): Record<string, Float32Array>[] {
    if (!this.state.length) for (const g of this.groups) for (const p of g.params) this.state.push(this.initState(p));
    return this.state;
  }

  protected abstract initState(p: Tensor): Record<string, Float32Array>;
  protected abstract update(p: Tensor, g: Float32Array, s: Record<string, Float32Array>, weightDecay: number): void;

  /** Applies one update to every parameter that has a gradient. */
  step(): void {
    this.stepCount++;
    this.ensureState();
    let i = 0;
    for (const group of this.groups) {
      for (const p of group.params) {
        const s = this.state[i++];
        if (p.grad) this.update(p, p.grad.data, s, group.weightDecay);
      }
    }
  }

  zeroGrad(): void {
    for (const g of this.groups) for (const p of g.params) p.grad = null;
  }

  stateDict(): OptimizerState {
    return { step: this.stepCount, buffers: this.ensureState() };
  }

  loadStateDict(s: OptimizerState): void {
    this.ensureState();
    if (s.buffers.length !== this.state.length) throw new ConfigError(`optimizer state has ${s.buffers.length} parameters, the model ${this.state.length}`);
    s.buffers.forEach((b, i) => {
      for (const [k, v] of Object.entries(this.state[i])) {
        if (!b[k] || b[k].length !== v.length) throw new ConfigError(`optimizer state: buffer ${k} of parameter ${i} is missing or has the wrong size`);
        v.set(b[k]);
      }
    });
    this.stepCount = s.step;
  }
}

export class SGD extends Optimizer {
  constructor(params: Tensor[] | ParamGroup[], readonly opts: { lr: number; momentum?: number; weightDecay?: number }) {
    super(params, opts.lr, opts.weightDecay ?? 0);
  }

  protected initState(p: Tensor): Record<string, Float32Array> {
    return this.opts.momentum ? { momentum: new Float32Array(p.size) } : {};
  }

  protected update(p: Tensor, g: Float32Array, s: Record<string, Float32Array>, wd: number): void {
    const mu = this.opts.momentum ?? 0, buf = s.momentum, x = p.data, lr = this.lr;
    const first = this.stepCount === 1;
    for (let i = 0; i < x.length; i++) {
      let d = g[i] + wd * x[i];
      if (buf) {
        buf[i] = first ? d : mu * buf[i] + d; // PyTorch: the first step copies the gradient
        d = buf[i];
      }
      x[i] -= lr * d;
    }
  }
}

export interface AdamOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** Adam (L2 weight decay added to the gradient) — PyTorch's torch.optim.Adam. Defaults lr 1e-3, betas (0.9, 0.999), eps 1e-8. */
export class Adam extends Optimizer {
  protected readonly decoupled: boolean = false;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;

  constructor(params: Tensor[] | ParamGroup[], opts: AdamOptions = {}, defaultDecay = 0) {
    super(params, opts.lr ?? 1e-3, opts.weightDecay ?? defaultDecay);
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
  }

  protected initState(p: Tensor): Record<string, Float32Array> {
    return { m: new Float32Array(p.size), v: new Float32Array(p.size) };
  }

  protected update(p: Tensor, g: Float32Array, s: Record<string, Float32Array>, wd: number): void {
    backend().adamStep(p.data, g, s.m, s.v, this.lr, this.beta1, this.beta2, this.eps, wd, this.stepCount, this.decoupled);
  }
}

/** AdamW (decoupled weight decay, default 0.01) — PyTorch's torch.optim.AdamW. */
export class AdamW extends Adam {
  protected override readonly decoupled = true;

  constructor(params: Tensor[] | ParamGroup[], opts: AdamOptions = {}) {
    super(params, opts, 0.01);
  }
}

/** Scales all gradients so their global L2 norm is at most maxNorm; returns the norm before clipping. */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  let sq = 0;
  for (const p of params) if (p.grad) for (const v of p.grad.data) sq += v * v;
  const norm = Math.sqrt(sq);
  const k = maxNorm / (norm + 1e-6);
  if (k < 1) for (const p of params) if (p.grad) { const g = p.grad.data; for (let i = 0; i < g.length; i++) g[i] *= k; }
  return norm;
}

/** Linear warmup from 0 to lr over warmupSteps, then cosine decay to minLr at totalSteps (constant after). */
export function warmupCosine(opts: { lr: number; warmupSteps: number; totalSteps: number; minLr?: number }): (step: number) => number {
  const { lr, warmupSteps, totalSteps } = opts;
  const minLr = opts.minLr ?? 0;
  return (step: number) => {
    if (step < warmupSteps) return (lr * (step + 1)) / warmupSteps;
    if (step >= totalSteps) return minLr;
    const t = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
    return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * t));
  };
}
