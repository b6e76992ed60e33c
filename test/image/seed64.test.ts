import { describe, expect, it } from 'vitest';
import * as F from '../../src/engine/ops/index.js';
import { Tensor } from '../../src/engine/tensor.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { Discriminator, Generator } from '../../src/image/gan.js';
import { presetConfig } from '../../src/image/presets.js';

const fixture = new URL('../fixtures/dcgan/seed64.safetensors', import.meta.url).pathname;

/** The fixture's weight formula (see scripts/fixtures/dcgan_seed64.py). */
function fillRecipe(t: Tensor, salt: number, bound: number): void {
  for (let i = 0; i < t.size; i++) {
    const u = ((i + salt) * 2654435761) % 2 ** 32 / 2 ** 32;
    t.data[i] = bound * (2 * u - 1);
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('seed64 matches PyTorch', () => {
  it('has the seed architecture (fixed): latent in, 64x64x3 out, Keras layer order', () => {
    const cfg = presetConfig('seed64');
    const g = new Generator(cfg), d = new Discriminator(cfg);
    expect(g.net.outputShape).toEqual([3, 64, 64]);
    expect(g.net.inputShape).toEqual([100]);
    expect([...g.stateDict().keys()]).toEqual([
      'net.0.weight', 'net.0.bias', 'net.3.weight', 'net.3.bias', 'net.5.weight', 'net.5.bias',
      'net.7.weight', 'net.7.bias', 'net.9.weight', 'net.9.bias',
    ]);
    expect([...d.stateDict().keys()]).toEqual(['net.0.weight', 'net.0.bias', 'net.2.weight', 'net.2.bias', 'net.5.weight', 'net.5.bias']);
    expect(g.net.stateDict().get('0.weight')!.shape).toEqual([8 * 8 * 256, 100]);
    expect(d.net.stateDict().get('5.weight')!.shape).toEqual([1, 128 * 16 * 16]);
  });

  it('forward pass, losses and every gradient within 1e-4', () => {
    const st = readSafetensors(fixture);
    const recipe = JSON.parse(st.metadata.recipe) as Record<string, [number, number]>;
    const cfg = presetConfig('seed64');
    const G = new Generator(cfg), D = new Discriminator(cfg);
    const params = new Map<string, Tensor>([
      ...[...G.stateDict()].map(([k, v]) => [`G.${k}`, v] as [string, Tensor]),
      ...[...D.stateDict()].map(([k, v]) => [`D.${k}`, v] as [string, Tensor]),
    ]);
    expect([...params.keys()].sort()).toEqual(Object.keys(recipe).sort());
    for (const [name, [salt, bound]] of Object.entries(recipe)) fillRecipe(params.get(name)!, salt, bound);

    const get = (n: string) => st.getTyped(n) as Float32Array;
    const z = new Tensor(get('z'), [2, 100]);
    const real = new Tensor(get('real'), [2, 3, 64, 64]);
    const ones = [1, 1], zeros = [0, 0];

    const fake = G.forward(z);
    expect(maxAbsDiff(fake.data, get('fake'))).toBeLessThan(1e-4);
    const dReal = D.forward(real).prob, dFake = D.forward(fake.detach()).prob;
    expect(maxAbsDiff(dReal.data, get('d_real'))).toBeLessThan(1e-4);
    expect(maxAbsDiff(dFake.data, get('d_fake'))).toBeLessThan(1e-4);
    const lossD = F.add(F.binaryCrossEntropy(dReal, ones), F.binaryCrossEntropy(dFake, zeros));
    expect(Math.abs(lossD.item() - get('loss_d')[0])).toBeLessThan(1e-4);
    lossD.backward();
    const dGrads = new Map([...D.stateDict()].map(([k, v]) => [`D.${k}`, v.grad!.data.slice()] as [string, Float32Array]));
    D.zeroGrad();
    const dGen = D.forward(fake).prob;
    expect(maxAbsDiff(dGen.data, get('d_gen'))).toBeLessThan(1e-4);
    const lossG = F.binaryCrossEntropy(dGen, ones);
    expect(Math.abs(lossG.item() - get('loss_g')[0])).toBeLessThan(1e-4);
    lossG.backward();
    const grads = new Map([...dGrads, ...[...G.stateDict()].map(([k, v]) => [`G.${k}`, v.grad!.data] as [string, Float32Array])]);

    let checked = 0;
    for (const name of Object.keys(recipe)) {
      const g = grads.get(name)!;
      let ref: Float32Array, ours: Float32Array;
      if (st.has(`grad.${name}`)) {
        ref = get(`grad.${name}`);
        ours = g;
      } else {
        const idx = st.getTyped(`grad.${name}.idx`) as BigInt64Array;
        ref = get(`grad.${name}.val`);
        ours = Float32Array.from(idx, (i) => g[Number(i)]);
      }
      const scale = ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      expect(scale, `${name} gradient is not trivially zero`).toBeGreaterThan(1e-7);
      expect(maxAbsDiff(ours, ref), `gradient of ${name}`).toBeLessThan(1e-4);
      checked++;
    }
    expect(checked).toBe(16);
  });
});
