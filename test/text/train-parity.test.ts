/**
 * Two training steps of a tiny GPT-2 match PyTorch: the same initial weights (an HF-layout
 * directory), the same batches (2 micro-batches per step, some targets ignored), gradient
 * clipping, AdamW with decay on matrices only. Fixture: scripts/fixtures/gpt_train.py.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { describe, expect, it } from 'vitest';
import { readSafetensors } from '../../src/io/safetensors.js';
import { GPT2 } from '../../src/text/gpt2.js';
import { makeOptimizer, trainStep } from '../../src/text/train/trainer.js';
import { hfTensors, saveModelDir } from '../../src/text/train/checkpoint.js';
import { loadGpt2Checkpoint } from '../../src/text/checkpoint.js';
import { backend, setBackend, tryNativeBackend } from '../../src/engine/backend/index.js';

const FIX = path.join(__dirname, '..', 'fixtures', 'gpt-train');

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const backends: ('ts' | 'native')[] = ['ts', ...(tryNativeBackend() instanceof Error ? [] : ['native' as const])];

describe.each(backends)('one training step matches PyTorch (%s backend)', (be) => {
  it('losses, gradient norms and updated weights within 1e-5', () => {
    const prev = backend();
    setBackend(be);
    try {
      const st = readSafetensors(path.join(FIX, 'step.safetensors'));
      const meta = st.metadata;
      const [STEPS, MICRO, B, T] = st.info('ids').shape;
      const rawIds = st.getInt64AsNumbers('ids');
      const rawTg = st.getInt64AsNumbers('targets');
      const losses = st.getTyped('losses') as Float64Array;
      const norms = st.getTyped('grad_norms') as Float64Array;
      const lrs = st.getTyped('lrs') as Float64Array;

      const model = GPT2.fromPretrained(path.join(FIX, 'init'));
      const betas = JSON.parse(meta.betas) as [number, number];
      const { opt, params } = makeOptimizer(model, { lr: lrs[0], weightDecay: Number(meta.weight_decay), beta1: betas[0], beta2: betas[1], eps: Number(meta.eps) });
      const n = B * T;
      for (let s = 0; s < STEPS; s++) {
        const micro = [];
        for (let k = 0; k < MICRO; k++) {
          const o = (s * MICRO + k) * n;
          const idsK = Int32Array.from(rawIds.slice(o, o + n));
          const tgK = Int32Array.from({ length: n }, (_, i) => { const t = rawTg[o + i]; return t === -100 ? -1 : t; });
          micro.push({ ids: idsK, targets: tgK });
        }
        const r = trainStep(model, opt, params, micro, B, T, lrs[s], Number(meta.clip), MICRO);
        expect(Math.abs(r.loss - losses[s])).toBeLessThan(1e-5);
        expect(Math.abs(r.gradNorm - norms[s]) / norms[s]).toBeLessThan(1e-5);
      }
      // Compare every parameter in the HF layout the checkpoint writer produces.
      const ours = hfTensors(model.namedParameters());
      let compared = 0;
      for (const name of st.names().filter((x) => x.startsWith('after.'))) {
        const hf = name.slice('after.'.length);
        const mine = ours[hf];
        expect(mine, hf).toBeDefined();
        const want = st.getFloat32(name);
        const d = maxAbsDiff(mine.data as Float32Array, want);
        expect(d, `${hf} differs by ${d}`).toBeLessThan(1e-5);
        // The step must actually have moved the weights.
        compared++;
      }
      expect(compared).toBe(model.namedParameters().length);
      const init = readSafetensors(path.join(FIX, 'init', 'model.safetensors'));
      expect(maxAbsDiff(init.getFloat32('transformer.h.0.attn.c_attn.weight'), st.getFloat32('after.transformer.h.0.attn.c_attn.weight'))).toBeGreaterThan(1e-3);
    } finally {
      setBackend(prev);
    }
  });
});

describe('checkpoint directory', () => {
  it('round-trips through the GPT-2 loader bit for bit (HF names, Conv1D layout)', () => {
    const model = GPT2.fromPretrained(path.join(FIX, 'init'));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aigc-ckpt-'));
    saveModelDir(dir, model, null);
    const back = loadGpt2Checkpoint(dir);
    for (const [name, t] of model.namedParameters()) expect(maxAbsDiff(back.tensors.get(name)!, t.data)).toBe(0);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(cfg.model_type).toBe('gpt2');
    expect(cfg.architectures).toEqual(['GPT2LMHeadModel']);
    // Same file names and layout as the PyTorch fixture's initial weights.
    const a = readSafetensors(path.join(dir, 'model.safetensors')), b = readSafetensors(path.join(FIX, 'init', 'model.safetensors'));
    expect(a.names()).toEqual(b.names());
    for (const n of a.names()) expect(maxAbsDiff(a.getFloat32(n), b.getFloat32(n))).toBe(0);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
