/**
 * The training forward of GPT-2 used by the trainer: the model's own modules (gpt2.ts: wte,
 * wpe, blocks, ln_f) with the engine's fused LM head + cross-entropy (F.linearCrossEntropy) at
 * the end: GPT2.forward would materialise the B·T × V logits and then cross-entropy's softmax
 * and gradient buffers of the same size, the largest tensors of a step. The loss and gradients
 * are the same (the PyTorch parity test checks it).
 */
import * as F from '../../engine/ops/index.js';
import { isGradEnabled, makeResult, Tensor } from '../../engine/tensor.js';
import { ConfigError } from '../../errors.js';
import type { GPT2 } from '../gpt2.js';

/** Targets equal to this are not predicted (prompt tokens, padding). */
export const IGNORE_INDEX = -1;

/**
 * Token embedding rows for ids, with the gradient of the table kept out of the autograd graph:
 * backward collects the (B·T × C) row gradients, and `finish()` adds them into `weight.grad`
 * after backward. The graph would otherwise allocate and add a dense V × C gradient for a
 * table whose other gradient (from the tied LM head) is dense already.
 */
function embeddingSparseGrad(weight: Tensor, ids: ArrayLike<number>, shape: readonly number[]): { out: Tensor; finish: () => void } {
  if (!weight.requiresGrad || !isGradEnabled()) return { out: F.embedding(weight, ids, shape), finish: () => undefined };
  const rows = F.embedding(noGradView(weight), ids, shape); // values only
  const C = weight.shape[1];
  let rowGrads: Float32Array | null = null;
  const anchor = new Tensor(new Float32Array(1), [1], true);
  const out = makeResult(rows.data, rows.shape, [anchor], (g) => {
    rowGrads = rowGrads ?? new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) rowGrads[i] += g[i];
    return [null];
  });
  const finish = () => {
    if (!rowGrads) return;
    if (!weight.grad) weight.grad = Tensor.zeros(weight.shape);
    const gw = weight.grad.data, rg = rowGrads;
    for (let i = 0; i < ids.length; i++) {
      const o = ids[i] * C, r = i * C;
      for (let j = 0; j < C; j++) gw[o + j] += rg[r + j];
    }
    rowGrads = null;
  };
  return { out, finish };
}

function noGradView(t: Tensor): Tensor {
  return new Tensor(t.data, t.shape, false);
}

/**
 * GPT-2's forward for training: ids (B·T) → mean cross-entropy against targets (B·T,
 * IGNORE_INDEX for positions without a target). Positions are 0..T-1 (no padding).
 * Call `finish()` after `loss.backward()` (it adds the token-embedding gradient).
 */
export function trainingLoss(model: GPT2, ids: ArrayLike<number>, B: number, T: number, targets: ArrayLike<number>): { loss: Tensor; finish: () => void } {
  const c = model.config;
  if (ids.length !== B * T || targets.length !== B * T) throw new ConfigError(`training batch: ${ids.length} ids / ${targets.length} targets do not fit B=${B} × T=${T}`);
  if (T > c.nPositions) throw new ConfigError(`training batch: ${T} tokens exceed the context window of ${c.nPositions}`);
  const pos = new Int32Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) pos[b * T + t] = t;
  const tok = embeddingSparseGrad(model.wte.weight, ids, [B, T]);
  let x = F.add(tok.out, model.wpe.lookup(pos, [B, T]));
  for (const block of model.h) x = block.forward(x, null);
  x = model.ln_f.forward(x);
  return { loss: F.linearCrossEntropy(x, model.wte.weight, targets, { ignoreIndex: IGNORE_INDEX }), finish: tok.finish };
}
