import { describe, expect, it } from 'vitest';
import * as F from '../../src/engine/ops/index.js';
import { Rng } from '../../src/engine/rng.js';
import { Tensor } from '../../src/engine/tensor.js';
import * as A from '../../src/image/activations.js';

describe('fast activations', () => {
  const cases: [string, (t: Tensor) => Tensor, (t: Tensor) => Tensor][] = [
    ['relu', A.relu, F.relu],
    ['leakyRelu', (t) => A.leakyRelu(t, 0.2), (t) => F.leakyRelu(t, 0.2)],
    ['sigmoid', A.sigmoid, F.sigmoid],
    ['tanh', A.tanh, F.tanh],
  ];
  for (const [name, fast, ref] of cases) {
    it(`${name} equals the engine op, values and gradients`, () => {
      const data = new Rng(1).fillNormal(new Float32Array(1000), 0, 4);
      data[0] = 0; data[1] = -80; data[2] = 80;
      const a = new Tensor(data.slice(), [10, 100], true), b = new Tensor(data.slice(), [10, 100], true);
      const ya = fast(a), yb = ref(b);
      expect(Array.from(ya.data)).toEqual(Array.from(yb.data));
      const g = new Rng(2).fillNormal(new Float32Array(1000));
      ya.backward(g); yb.backward(g);
      const ga = a.grad!.data, gb = b.grad!.data;
      for (let i = 0; i < 1000; i++) expect(Math.abs(ga[i] - gb[i])).toBeLessThanOrEqual(1e-7 * Math.max(1, Math.abs(gb[i])));
    });
  }
});

describe('in-place activations', () => {
  it('relu / leakyRelu in place give the same values and gradients, reusing the input buffer', () => {
    for (const [fast, ref] of [[(t: Tensor) => A.relu(t, true), F.relu], [(t: Tensor) => A.leakyRelu(t, 0.2, true), (t: Tensor) => F.leakyRelu(t, 0.2)]] as const) {
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
