/**
 * The training forward of GPT-2 used by the trainer: the model's hidden states (GPT2.hidden)
 * with the engine's fused LM head + cross-entropy (F.linearCrossEntropy) at the end:
 * GPT2.forward would materialise the B·T × V logits and then cross-entropy's softmax
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
  if (ids.length !== B * T || targets.length !== B * T) throw new ConfigError(`training batch: ${ids.length} ids / ${targets.length} targets do not fit B=${B} × T=${T}`);
  const tok = embeddingSparseGrad(model.wte.weight, ids, [B, T]);
  const x = model.hidden(ids, B, T, { tokens: tok.out }); // (B, T, C)
  return { loss: F.linearCrossEntropy(x, model.wte.weight, targets, { ignoreIndex: IGNORE_INDEX }), finish: tok.finish };
}
