/**
 * The training forward of GPT-2 used by the trainer: the model's hidden states (GPT2.hidden)
 * with the engine's fused LM head + cross-entropy (F.linearCrossEntropy) at the end:
 * GPT2.forward would materialise the B·T × V logits and then cross-entropy's softmax
 * and gradient buffers of the same size, the largest tensors of a step. The loss and gradients
 * are the same (the PyTorch parity test checks it).
 */
import * as F from '../../engine/ops/index.js';
import type { Tensor } from '../../engine/tensor.js';
import { ConfigError } from '../../errors.js';
import type { GPT2 } from '../gpt2.js';

/** Targets equal to this are not predicted (prompt tokens, padding). */
export const IGNORE_INDEX = -1;

/**
 * GPT-2's forward for training: ids (B·T) → mean cross-entropy against targets (B·T,
 * IGNORE_INDEX for positions without a target). Positions are 0..T-1 (no padding). The tied
 * token embedding gets the LM head's dense gradient plus the embedding's sparse one (only the
 * looked-up rows: F.embedding adds them in place).
 */
export function trainingLoss(model: GPT2, ids: ArrayLike<number>, B: number, T: number, targets: ArrayLike<number>): Tensor {
  if (ids.length !== B * T || targets.length !== B * T) throw new ConfigError(`training batch: ${ids.length} ids / ${targets.length} targets do not fit B=${B} × T=${T}`);
  const x = model.hidden(ids, B, T); // (B, T, C)
  return F.linearCrossEntropy(x, model.wte.weight, targets, { ignoreIndex: IGNORE_INDEX });
}
