import { describe, expect, it } from 'vitest';
import * as F from '../../src/engine/ops/index.js';
import { Rng } from '../../src/engine/rng.js';
import { Tensor } from '../../src/engine/tensor.js';

/** The textbook definitions, element by element, with their derivatives. */
const defs: [string, (t: Tensor) => Tensor, (v: number) => number, (v: number) => number][] = [
  ['relu', (t) => F.relu(t), (v) => Math.max(v, 0), (v) => (v > 0 ? 1 : 0)],
  ['leakyRelu', (t) => F.leakyRelu(t, 0.2), (v) => (v > 0 ? v : 0.2 * v), (v) => (v > 0 ? 1 : 0.2)],
  ['sigmoid', F.sigmoid, (v) => 1 / (1 + Math.exp(-v)), (v) => { const s = 1 / (1 + Math.exp(-v)); return s * (1 - s); }],
  ['tanh', F.tanh, Math.tanh, (v) => 1 - Math.tanh(v) ** 2],
];

describe('activations', () => {
  for (const [name, op, f, df] of defs) {
    it(`${name} equals its definition, values and gradients`, () => {
      const data = new Rng(1).fillNormal(new Float32Array(1000), 0, 4);
      data[0] = 0; data[1] = -80; data[2] = 80;
      const a = new Tensor(data.slice(), [10, 100], true);
      const ya = op(a);
      for (let i = 0; i < 1000; i++) expect(Math.abs(ya.data[i] - f(data[i]))).toBeLessThanOrEqual(1e-7 * Math.max(1, Math.abs(f(data[i]))));
      const g = new Rng(2).fillNormal(new Float32Array(1000));
      ya.backward(g);
      const ga = a.grad!.data;
      for (let i = 0; i < 1000; i++) expect(Math.abs(ga[i] - g[i] * df(data[i]))).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(g[i])));
    });
  }
});

describe('in-place activations', () => {
  it('relu / leakyRelu in place give the same values and gradients, reusing the input buffer', () => {
    for (const [fast, ref] of [[(t: Tensor) => F.relu(t, { inPlace: true }), (t: Tensor) => F.relu(t)], [(t: Tensor) => F.leakyRelu(t, 0.2, { inPlace: true }), (t: Tensor) => F.leakyRelu(t, 0.2)]] as const) {
      const data = new Rng(3).fillNormal(new Float32Array(300));
      const w = new Tensor(new Rng(4).fillNormal(new Float32Array(300)), [300], true);
      const w2 = new Tensor(w.data.slice(), [300], true);
      const ha = F.mul(new Tensor(data.slice(), [300]), w), hb = F.mul(new Tensor(data.slice(), [300]), w2);
      const ya = fast(ha), yb = ref(hb);
      expect(ya.data).toBe(ha.data);
      expect(Array.from(ya.data)).toEqual(Array.from(yb.data));
      F.sum(F.mul(ya, ya)).backward(); F.sum(F.mul(yb, yb)).backward();
      expect(Array.from(w.grad!.data)).toEqual(Array.from(w2.grad!.data));
    }
  });
});
