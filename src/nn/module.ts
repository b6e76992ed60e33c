/**
 * Module: a tree of layers with named parameters, buffers, train/eval mode and state dicts,
 * in PyTorch's naming (`h.0.attn.c_attn.weight`). Parameters are the Tensor-valued own
 * properties of a module; children are Module-valued properties and arrays of Modules
 * (named by index); buffers (running statistics) are registered explicitly.
 */
import { CheckpointError } from '../errors.js';
import { shapeStr, Tensor } from '../engine/tensor.js';

export abstract class Module {
  training = true;
  private readonly buffers = new Map<string, Tensor>();

  protected registerBuffer(name: string, t: Tensor): Tensor {
    this.buffers.set(name, t);
    return t;
  }

  /** Direct children, in declaration order. */
  namedChildren(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [k, v] of Object.entries(this)) {
      if (v instanceof Module) out.push([k, v]);
      else if (Array.isArray(v) && v.length && v.every((m) => m instanceof Module)) v.forEach((m, i) => out.push([`${k}.${i}`, m]));
    }
    return out;
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const buffers = new Set(this.buffers.values());
    for (const [k, v] of Object.entries(this)) if (v instanceof Tensor && !buffers.has(v)) out.push([prefix + k, v]);
    for (const [k, m] of this.namedChildren()) out.push(...m.namedParameters(`${prefix}${k}.`));
    return out;
  }

  /** Parameters that are trained (requiresGrad). Tied parameters appear once. */
  parameters(): Tensor[] {
    return [...new Set(this.namedParameters().map(([, p]) => p))].filter((p) => p.requiresGrad);
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.buffers].map(([k, v]) => [prefix + k, v] as [string, Tensor]);
    for (const [k, m] of this.namedChildren()) out.push(...m.namedBuffers(`${prefix}${k}.`));
    return out;
  }

  /** Sets training mode on this module and all children (dropout, batch norm). */
  train(mode = true): this {
    this.training = mode;
    for (const [, m] of this.namedChildren()) m.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const [, p] of this.namedParameters()) p.grad = null;
  }

  numParameters(): number {
    return [...new Set(this.namedParameters().map(([, p]) => p))].reduce((n, p) => n + p.size, 0);
  }

  /** Parameters and buffers by name (tensors shared, not copied). */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /**
   * Copies values in by name. Every name and shape is checked; with strict (default) missing
   * and unexpected names are errors too. The error lists every problem, not just the first.
   */
  loadStateDict(sd: Map<string, Float32Array | Tensor>, opts: { strict?: boolean; source?: string } = {}): void {
    const strict = opts.strict ?? true;
    const own = this.stateDict();
    const problems: string[] = [];
    for (const [name, t] of own) {
      const v = sd.get(name);
      if (v === undefined) {
        if (strict) problems.push(`missing ${name} ${shapeStr(t.shape)}`);
        continue;
      }
      const data = v instanceof Tensor ? v.data : v;
      if (v instanceof Tensor && (v.ndim !== t.ndim || v.shape.some((d, i) => d !== t.shape[i]))) {
        problems.push(`${name}: shape ${shapeStr(v.shape)} but the model has ${shapeStr(t.shape)}`);
      } else if (data.length !== t.size) {
        problems.push(`${name}: ${data.length} values but the model has ${shapeStr(t.shape)}`);
      }
    }
    if (strict) for (const name of sd.keys()) if (!own.has(name)) problems.push(`unexpected ${name}`);
    if (problems.length) {
      throw new CheckpointError(`${opts.source ?? 'state dict'} does not fit the model:\n  ${problems.slice(0, 20).join('\n  ')}${problems.length > 20 ? `\n  … and ${problems.length - 20} more` : ''}`);
    }
    for (const [name, t] of own) {
      const v = sd.get(name);
      if (v !== undefined) t.data.set(v instanceof Tensor ? v.data : v);
    }
  }
}

/** A module with one tensor in and one out: what Sequential chains. */
export abstract class Layer extends Module {
  abstract forward(x: Tensor): Tensor;
}
