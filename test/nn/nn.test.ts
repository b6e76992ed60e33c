import { describe, expect, it } from 'vitest';
import { F, Rng, Tensor } from '../../src/engine/index.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import {
  Adam, AdamW, BatchNorm2d, clipGradNorm, Conv2d, ConvTranspose2d, Dropout, Flatten, LayerNorm, Linear, ReLU,
  SGD, Sequential, warmupCosine,
} from '../../src/nn/index.js';

const fixtures = new URL('../fixtures/', import.meta.url).pathname;

describe('Module', () => {
  const net = () => new Sequential(new Conv2d(3, 4, 3, { padding: 1 }), new BatchNorm2d(4), ReLU(), Flatten(), new Linear(4 * 4 * 4, 2));

  it('names parameters and buffers as PyTorch does', () => {
    const names = [...net().stateDict().keys()];
    expect(names).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '4.weight', '4.bias', '1.running_mean', '1.running_var']);
    expect(net().numParameters()).toBe(4 * 3 * 9 + 4 + 4 + 4 + 2 * 64 + 2);
  });

  it('round-trips a state dict and rejects one that does not fit, naming every problem', () => {
    const a = net(), b = new Sequential(new Conv2d(3, 4, 3, { padding: 1, rng: new Rng(9) }), new BatchNorm2d(4), ReLU(), Flatten(), new Linear(64, 2, { rng: new Rng(9) }));
    b.loadStateDict(a.stateDict());
    const x = Tensor.full([2, 3, 4, 4], 0.5);
    expect(b.eval().forward(x).toArray()).toEqual(a.eval().forward(x).toArray());
    const sd = new Map(a.stateDict());
    sd.delete('0.bias');
    sd.set('4.weight', Tensor.zeros([3, 64]));
    sd.set('extra', Tensor.zeros([1]));
    expect(() => b.loadStateDict(sd, { source: 'ckpt.safetensors' })).toThrow(
      /ckpt.safetensors does not fit the model:\n {2}missing 0.bias \[4\]\n {2}4.weight: shape \[3, 64\] but the model has \[2, 64\]\n {2}unexpected extra/,
    );
  });

  it('switches dropout and batch norm between train and eval', () => {
    const m = new Sequential(new Dropout(0.5, new Rng(1)));
    const x = Tensor.ones([100]);
    expect(m.forward(x).toArray().some((v) => v === 0)).toBe(true);
    m.eval();
    expect(m.forward(x).toArray().every((v) => v === 1)).toBe(true);
  });

  it('layers have PyTorch layouts', () => {
    expect(new ConvTranspose2d(8, 3, 5).weight.shape).toEqual([8, 3, 5, 5]);
    expect(new Linear(5, 7).weight.shape).toEqual([7, 5]);
    expect(new LayerNorm(6).forward(Tensor.from([[1, 2, 3, 4, 5, 6]])).data[0]).toBeCloseTo(-1.46385, 4);
  });
});

describe('optimizers match PyTorch (fixture from scripts/fixtures/optim.py)', () => {
  const fx = readSafetensors(fixtures + 'optim.safetensors');
  const get = (n: string) => fx.getFloat32(n);
  const cases = {
    sgd: (p: Tensor[]) => new SGD(p, { lr: 0.1, momentum: 0.9, weightDecay: 0.01 }),
    adam: (p: Tensor[]) => new Adam(p, { lr: 0.01, beta1: 0.5, beta2: 0.999, weightDecay: 0.1 }),
    adamw: (p: Tensor[]) => new AdamW(p, { lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 }),
  };
  for (const [name, make] of Object.entries(cases)) {
    it(name, () => {
      const p = new Tensor(get('p0').slice(), [7, 5], true);
      const opt = make([p]);
      for (let i = 0; i < 3; i++) {
        p.grad = new Tensor(get(`g${i}`).slice(), [7, 5]);
        opt.step();
        const want = get(`${name}.step${i + 1}`);
        for (let j = 0; j < want.length; j++) expect(Math.abs(p.data[j] - want[j])).toBeLessThan(1e-6);
      }
    });
  }

  it('optimizer state round-trips for resume', () => {
    const mk = () => new Tensor(get('p0').slice(), [7, 5], true);
    const [p1, p2] = [mk(), mk()];
    const o1 = new AdamW([p1], { lr: 0.01 });
    p1.grad = new Tensor(get('g0').slice(), [7, 5]);
    o1.step();
    p2.data.set(p1.data);
    const o2 = new AdamW([p2], { lr: 0.01 });
    o2.loadStateDict(structuredClone(o1.stateDict()));
    for (const [p, o] of [[p1, o1], [p2, o2]] as const) { p.grad = new Tensor(get('g1').slice(), [7, 5]); o.step(); }
    expect(p2.toArray()).toEqual(p1.toArray());
  });
});

describe('training utilities', () => {
  it('clips gradients by global norm', () => {
    const a = Tensor.zeros([2], true), b = Tensor.zeros([1], true);
    a.grad = Tensor.from([3, 0]);
    b.grad = Tensor.from([4]);
    expect(clipGradNorm([a, b], 1)).toBeCloseTo(5, 6);
    expect(a.grad.data[0]).toBeCloseTo(0.6, 5);
    expect(b.grad.data[0]).toBeCloseTo(0.8, 5);
  });

  it('warmup + cosine schedule', () => {
    const s = warmupCosine({ lr: 1, warmupSteps: 10, totalSteps: 110, minLr: 0.1 });
    expect(s(0)).toBeCloseTo(0.1);
    expect(s(9)).toBeCloseTo(1);
    expect(s(60)).toBeCloseTo(0.55);
    expect(s(110)).toBeCloseTo(0.1);
  });

  it('a small MLP learns XOR', () => {
    const rng = new Rng(3);
    const net = new Sequential(new Linear(2, 8, { rng }), ReLU(), new Linear(8, 1, { rng }));
    const opt = new Adam(net.parameters(), { lr: 0.05 });
    const x = Tensor.from([[0, 0], [0, 1], [1, 0], [1, 1]]);
    const y = [0, 1, 1, 0];
    let loss = 1;
    for (let i = 0; i < 300; i++) {
      opt.zeroGrad();
      const l = F.binaryCrossEntropyWithLogits(net.forward(x), y);
      l.backward();
      opt.step();
      loss = l.item();
    }
    expect(loss).toBeLessThan(0.05);
  });
});
