/**
 * LoRA: starts from the base model exactly, trains only the adapters (base weights frozen),
 * saves a PEFT-format adapter that reloads to the same outputs, and merges into the base
 * weights with the same outputs; `aigc text train --lora-rank --merge` end to end.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { noGrad } from '../../src/engine/tensor.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { GPT2 } from '../../src/text/gpt2.js';
import { applyLora, loadLoraAdapter, LoraLinear, mergeLora, saveLoraAdapter } from '../../src/text/lora.js';
import { makeOptimizer, trainStep } from '../../src/text/train/trainer.js';
import { runTextEval, runTextTrain } from '../../src/text/train/run.js';

const FIX = path.join(__dirname, '..', 'fixtures');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aigc-lora-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const B = 2, T = 8;
const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % 61);
const targets = Int32Array.from({ length: B * T }, (_, i) => (i * 5 + 1) % 61);
const logitsOf = (m: GPT2) => noGrad(() => m.forward(ids, B, T).logits.data.slice());
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

describe('LoRA', () => {
  it('trains adapters only, round-trips through PEFT files, and merges', () => {
    const base = GPT2.fromPretrained(path.join(FIX, 'gpt-train', 'init'));
    const baseLogits = logitsOf(base);
    const frozen = new Map(base.namedParameters().map(([n, p]) => [n, p.data.slice()]));
    const cfg = { rank: 4, alpha: 8, targets: ['c_attn', 'c_proj'] };
    const layers = applyLora(base, cfg, 5);
    expect(layers.size).toBe(2 * 3); // per block: attn.c_attn, attn.c_proj, mlp.c_proj
    expect(maxDiff(logitsOf(base), baseLogits)).toBe(0); // B = 0: the base model exactly

    const { opt, params, names } = makeOptimizer(base, { lr: 1e-2, weightDecay: 0, beta1: 0.9, beta2: 0.99, eps: 1e-8 });
    expect(params).toHaveLength(12);
    expect(names.every((n) => /lora_[AB]$/.test(n))).toBe(true);
    const losses = [];
    for (let s = 0; s < 8; s++) losses.push(trainStep(base, opt, params, [{ ids, targets }], B, T, 1e-2, 1.0, 1).loss);
    expect(losses[7]).toBeLessThan(losses[0] - 0.1);
    for (const [n, p] of base.namedParameters()) if (!/lora_/.test(n)) expect(maxDiff(p.data, frozen.get(n)!), n).toBe(0);
    const tuned = logitsOf(base);
    expect(maxDiff(tuned, baseLogits)).toBeGreaterThan(1e-3);

    const dir = path.join(tmp, 'adapter');
    saveLoraAdapter(dir, base, cfg, 'tiny-base');
    const st = readSafetensors(path.join(dir, 'adapter_model.safetensors'));
    expect(st.names()).toContain('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight');
    expect(st.info('base_model.model.transformer.h.1.mlp.c_proj.lora_B.weight').shape).toEqual([32, 4]);
    expect(st.info('base_model.model.transformer.h.1.attn.c_attn.lora_A.weight').shape).toEqual([4, 32]);
    const acfg = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
    expect(acfg).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, target_modules: ['c_attn', 'c_proj'], fan_in_fan_out: true });

    const fresh = GPT2.fromPretrained(path.join(FIX, 'gpt-train', 'init'));
    loadLoraAdapter(fresh, dir);
    expect(maxDiff(logitsOf(fresh), tuned)).toBe(0);

    expect(mergeLora(fresh)).toBe(6);
    expect(fresh.h[0].attn.c_attn).not.toBeInstanceOf(LoraLinear);
    expect(maxDiff(logitsOf(fresh), tuned)).toBeLessThan(1e-5);
    expect(fresh.namedParameters().some(([n]) => /lora/.test(n))).toBe(false);
  });

  it('aigc text train --lora-rank --merge writes the adapter and the merged model', async () => {
    const data = path.join(tmp, 'qa.jsonl');
    fs.writeFileSync(data, Array.from({ length: 12 }, (_, i) => JSON.stringify({ prompt: `The capital of France is`, completion: ` Paris ${i % 3}.` })).join('\n') + '\n');
    const out = path.join(tmp, 'lora-run');
    const losses: number[] = [];
    await runTextTrain({
      data: [data], out, model: path.join(FIX, 'gpt2-tiny'), lora: { rank: 2, alpha: 4, targets: ['c_attn'] }, merge: true, valFraction: 0.2,
      cacheDir: path.join(tmp, 'cache'), settings: { steps: 12, batchSize: 4, blockSize: 32, evalEvery: 6, checkpointEvery: 6, lr: 5e-3 },
      progress: false, handleSignals: false, log: () => undefined,
      onRecord: (r) => { if (r.type === 'step') losses.push(r.loss as number); },
    });
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
    for (const f of ['adapter_config.json', 'adapter_model.safetensors', 'model.safetensors', 'config.json', 'vocab.json', 'checkpoint-12/adapter_model.safetensors']) {
      expect(fs.existsSync(path.join(out, f)), f).toBe(true);
    }
    // The merged model differs from the base only in the targeted layers.
    const merged = readSafetensors(path.join(out, 'model.safetensors'));
    const baseSt = readSafetensors(path.join(FIX, 'gpt2-tiny', 'model.safetensors'));
    const baseName = (n: string) => (baseSt.has(n) ? n : n.replace(/^transformer\./, ''));
    expect(maxDiff(merged.getFloat32('transformer.h.0.mlp.c_fc.weight'), baseSt.getFloat32(baseName('transformer.h.0.mlp.c_fc.weight')))).toBe(0);
    expect(maxDiff(merged.getFloat32('transformer.h.0.attn.c_attn.weight'), baseSt.getFloat32(baseName('transformer.h.0.attn.c_attn.weight')))).toBeGreaterThan(0);
    // aigc text eval on the adapter checkpoint (base + adapter) and on the merged model agree.
    const viaAdapter = await runTextEval({ model: path.join(out, 'checkpoint-12'), data: [data], blockSize: 32 });
    const viaMerged = await runTextEval({ model: out, data: [data], blockSize: 32 });
    expect(Math.abs(viaAdapter.loss - viaMerged.loss)).toBeLessThan(1e-4);
    // The merged directory loads as a plain GPT-2.
    expect(GPT2.fromPretrained(out).numParameters()).toBe(GPT2.fromPretrained(path.join(FIX, 'gpt2-tiny')).numParameters());
  });
});
