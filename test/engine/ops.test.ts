/**
 * Every op's gradient against finite differences, on each available backend, plus the
 * semantics finite differences cannot see (conv geometry against a direct loop, stable losses,
 * error messages).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { F, makeResult, noGrad, Rng, setBackend, Tensor, tryNativeBackend, tsBackend, backend } from '../../src/engine/index.js';
import { gradcheck, randn } from './gradcheck.js';

const backends = [tsBackend, tryNativeBackend()].filter((b) => !(b instanceof Error)) as (typeof tsBackend)[];
const initial = backend();
afterAll(() => { setBackend(initial); });

/** Values bounded away from 0, where relu/abs-like kinks would spoil finite differences. */
function awayFromZero(shape: number[], seed: number): Tensor {
  const t = randn(shape, seed);
  for (let i = 0; i < t.size; i++) t.data[i] += t.data[i] >= 0 ? 0.2 : -0.2;
  return t;
}

function positive(shape: number[], seed: number): Tensor {
  const t = randn(shape, seed);
  for (let i = 0; i < t.size; i++) t.data[i] = Math.abs(t.data[i]) + 0.5;
  return t;
}

/** Direct 7-loop convolution, the definition the kernels must agree with. */
function naiveConv(x: Tensor, w: Tensor, stride: number, padT: number, padL: number, Ho: number, Wo: number): Float32Array {
  const [N, C, H, W] = x.shape, [O, , KH, KW] = w.shape;
  const y = new Float32Array(N * O * Ho * Wo);
  for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) for (let oy = 0; oy < Ho; oy++) for (let ox = 0; ox < Wo; ox++) {
    let s = 0;
    for (let c = 0; c < C; c++) for (let ky = 0; ky < KH; ky++) for (let kx = 0; kx < KW; kx++) {
      const iy = oy * stride - padT + ky, ix = ox * stride - padL + kx;
      if (iy >= 0 && iy < H && ix >= 0 && ix < W) s += x.data[((n * C + c) * H + iy) * W + ix] * w.data[((o * C + c) * KH + ky) * KW + kx];
    }
    y[((n * O + o) * Ho + oy) * Wo + ox] = s;
  }
  return y;
}

/** Direct transposed convolution: every input pixel scatters its kernel into the output. */
function naiveConvT(x: Tensor, w: Tensor, stride: number, pad: number, Ho: number, Wo: number): Float32Array {
  const [N, C, H, W] = x.shape, [, O, KH, KW] = w.shape;
  const y = new Float32Array(N * O * Ho * Wo);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let iy = 0; iy < H; iy++) for (let ix = 0; ix < W; ix++) {
    const v = x.data[((n * C + c) * H + iy) * W + ix];
    for (let o = 0; o < O; o++) for (let ky = 0; ky < KH; ky++) for (let kx = 0; kx < KW; kx++) {
      const oy = iy * stride - pad + ky, ox = ix * stride - pad + kx;
      if (oy >= 0 && oy < Ho && ox >= 0 && ox < Wo) y[((n * O + o) * Ho + oy) * Wo + ox] += v * w.data[((c * O + o) * KH + ky) * KW + kx];
    }
  }
  return y;
}

function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-4): void {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  expect(worst).toBeLessThan(tol);
}

for (const be of backends) {
  describe(`ops on the ${be.name} backend`, () => {
    it('selects the backend', () => { expect(setBackend(be).name).toBe(be.name); });

    it('broadcasting arithmetic', () => {
      gradcheck((a, b) => F.add(a, b), [randn([2, 3, 4], 1), randn([3, 1], 2)]);
      gradcheck((a, b) => F.sub(a, b), [randn([4], 3), randn([2, 3, 4], 4)]);
      gradcheck((a, b) => F.mul(a, b), [randn([2, 1, 4], 5), randn([3, 4], 6)]);
      gradcheck((a, b) => F.div(a, b), [randn([2, 3], 7), positive([2, 3], 8)]);
      gradcheck((a, b) => F.mul(a, b), [randn([5], 9), randn([], 10)]);
      gradcheck((a) => F.affine(a, -1.5, 2), [randn([3, 3], 11)]);
    });

    it('unary functions', () => {
      for (const f of [F.exp, F.tanh, F.sigmoid, F.gelu, F.neg, F.square]) gradcheck(f, [randn([3, 5], 12)]);
      gradcheck(F.log, [positive([7], 13)]);
      gradcheck(F.sqrt, [positive([7], 14)]);
      gradcheck((a) => F.relu(a), [awayFromZero([4, 4], 15)]);
      gradcheck((a) => F.leakyRelu(a, 0.2), [awayFromZero([4, 4], 16)]);
      gradcheck((a) => F.pow(a, 3), [randn([6], 17)]);
      gradcheck((a) => F.clamp(a, -0.5, 0.5), [Tensor.from([-1, -0.3, 0.1, 0.2, 0.9])]);
    });

    it('reductions', () => {
      gradcheck((a) => F.sum(a), [randn([2, 3, 4], 18)]);
      gradcheck((a) => F.sum(a, [0, 2], { keepDim: true }), [randn([2, 3, 4], 19)]);
      gradcheck((a) => F.mean(a, 1), [randn([2, 3, 4], 20)]);
      gradcheck((a) => F.max(a, 1), [randn([3, 6, 2], 21)]);
      expect(F.mean(Tensor.from([[1, 2], [3, 4]]), 0).toArray()).toEqual([2, 3]);
      expect(F.max(Tensor.from([[1, 5], [7, 4]]), -1).toArray()).toEqual([5, 7]);
    });

    it('matmul and linear', () => {
      gradcheck((a, b) => F.matmul(a, b), [randn([3, 4], 22), randn([4, 5], 23)]);
      gradcheck((a, b) => F.matmul(a, b), [randn([2, 3, 4], 24), randn([2, 4, 5], 25)]);
      gradcheck((a, b) => F.matmul(a, b), [randn([2, 3, 4], 26), randn([4, 5], 27)]);
      gradcheck((a, b) => F.matmul(a, b), [randn([3, 4], 28), randn([2, 4, 5], 29)]);
      gradcheck((a, b) => F.matmul(a, b, { transB: true }), [randn([2, 3, 4], 30), randn([2, 5, 4], 31)]);
      gradcheck((a, b) => F.matmul(a, b, { transB: true }), [randn([2, 3, 4], 32), randn([5, 4], 33)]);
      gradcheck((x, w, b) => F.linear(x, w, b), [randn([2, 3, 4], 34), randn([6, 4], 35), randn([6], 36)]);
      const y = F.matmul(Tensor.from([[1, 2], [3, 4]]), Tensor.from([[5, 6], [7, 8]]));
      expect(y.toArray()).toEqual([19, 22, 43, 50]);
    });

    it('softmax, log-softmax, layer norm, batch norm', () => {
      gradcheck((a) => F.softmax(a), [randn([3, 5], 37)]);
      gradcheck((a) => F.softmax(a, 0), [randn([3, 5], 38)]);
      gradcheck((a) => F.logSoftmax(a), [randn([2, 2, 6], 39)]);
      gradcheck((x, g, b) => F.layerNorm(x, g, b), [randn([3, 8], 40), randn([8], 41), randn([8], 42)]);
      gradcheck((x) => F.layerNorm(x, null, null), [randn([2, 7], 43)]);
      for (const training of [true, false]) {
        const state = () => ({ runningMean: new Float32Array([0.1, -0.2, 0.3]), runningVar: new Float32Array([1, 2, 0.5]) });
        gradcheck((x, g, b) => F.batchNorm(x, g, b, state(), { training }), [randn([4, 3, 2, 2], 44), randn([3], 45), randn([3], 46)]);
      }
      const s = F.softmax(randn([4, 9], 47));
      for (let r = 0; r < 4; r++) expect(s.data.subarray(r * 9, r * 9 + 9).reduce((x, y) => x + y, 0)).toBeCloseTo(1, 6);
      // batch norm updates running stats as PyTorch (momentum 0.1, unbiased var)
      const st = { runningMean: new Float32Array(1), runningVar: new Float32Array([1]) };
      F.batchNorm(Tensor.from([1, 2, 3, 4], [4, 1]), null, null, st, { training: true });
      expect(st.runningMean[0]).toBeCloseTo(0.25, 6);
      expect(st.runningVar[0]).toBeCloseTo(0.9 + 0.1 * (5 / 3), 6);
    });

    it('shape ops and embedding', () => {
      gradcheck((a) => F.reshape(a, [4, -1]), [randn([2, 2, 3], 48)]);
      gradcheck((a) => F.permute(a, [2, 0, 1]), [randn([2, 3, 4], 49)]);
      gradcheck((a) => F.transpose(a, 0, 1), [randn([3, 4], 50)]);
      gradcheck((a) => F.slice(a, 1, 1, 3), [randn([2, 4, 3], 51)]);
      gradcheck((a, b) => F.concat([a, b], 1), [randn([2, 2, 3], 52), randn([2, 1, 3], 53)]);
      gradcheck((a) => F.mul(F.split(a, [1, 3], 1)[1], 2), [randn([2, 4], 54)]);
      gradcheck((w) => F.embedding(w, [3, 0, 3, 1], [2, 2]), [randn([5, 3], 55)]);
      // A tied table: the embedding's sparse gradient adds to the dense one of a matmul, and
      // into an existing .grad (accumulation) as well.
      gradcheck((w) => F.add(F.embedding(w, [4, 1], [2]), F.matmul(Tensor.ones([2, 5]), w)), [randn([5, 3], 57)]);
      const w = Tensor.from([[1, 2], [3, 4], [5, 6]], undefined, true);
      F.sum(F.embedding(w, [2, 2, 0])).backward();
      F.sum(F.embedding(w, [1])).backward();
      expect(w.grad!.toArray()).toEqual([1, 1, 1, 1, 2, 2]);
      expect(F.permute(Tensor.from([[1, 2, 3], [4, 5, 6]]), [1, 0]).toArray()).toEqual([1, 4, 2, 5, 3, 6]);
      expect(F.embedding(Tensor.from([[1, 2], [3, 4]]), [1, 0]).toArray()).toEqual([3, 4, 1, 2]);
    });

    it('dropout', () => {
      gradcheck((a) => F.dropout(a, 0.3, new Rng(7), true), [randn([20], 56)]);
      const x = Tensor.ones([10000]);
      const y = F.dropout(x, 0.25, new Rng(1), true);
      const zeros = y.data.filter((v) => v === 0).length;
      expect(zeros / 10000).toBeGreaterThan(0.22);
      expect(zeros / 10000).toBeLessThan(0.28);
      expect(y.data.find((v) => v !== 0)).toBeCloseTo(4 / 3, 6);
      expect(F.dropout(x, 0.25, new Rng(1), false)).toBe(x);
    });

    it('conv2d matches the direct definition and its gradients', () => {
      for (const [H, W, k, s, pad] of [[7, 6, 3, 1, 1], [8, 8, 5, 2, 2], [5, 5, 1, 1, 0], [9, 7, 3, 2, 0]] as const) {
        const x = randn([2, 3, H, W], 57), w = randn([4, 3, k, k], 58);
        const y = F.conv2d(x, w, null, { stride: s, padding: pad });
        expectClose(y.data, naiveConv(x, w, s, pad, pad, y.shape[2], y.shape[3]));
      }
      // Keras 'same' with stride 2: output ceil(in/2), the extra padding at the bottom/right.
      const x = randn([1, 2, 8, 8], 59), w = randn([3, 2, 5, 5], 60);
      const y = F.conv2d(x, w, null, { stride: 2, padding: 'same' });
      expect(y.shape).toEqual([1, 3, 4, 4]);
      expectClose(y.data, naiveConv(x, w, 2, 1, 1, 4, 4));
      gradcheck((x, w, b) => F.conv2d(x, w, b, { stride: 2, padding: 'same' }), [randn([2, 2, 6, 5], 61), randn([3, 2, 3, 3], 62), randn([3], 63)]);
      gradcheck((x, w) => F.conv2d(x, w, null, { stride: 1, padding: 2 }), [randn([1, 2, 4, 4], 64), randn([2, 2, 5, 5], 65)]);
    });

    it('convTranspose2d matches the direct definition and its gradients', () => {
      const x = randn([2, 3, 4, 4], 66), w = randn([3, 2, 5, 5], 67);
      const y = F.convTranspose2d(x, w, null, { stride: 2, padding: 2, outputPadding: 1 });
      expect(y.shape).toEqual([2, 2, 8, 8]);
      expectClose(y.data, naiveConvT(x, w, 2, 2, 8, 8));
      // Keras 'same' (stride 2, k 5): output in·2, placement one pixel earlier than PyTorch's padding 2.
      const ys = F.convTranspose2d(x, w, null, { stride: 2, padding: 'same' });
      expect(ys.shape).toEqual([2, 2, 8, 8]);
      expectClose(ys.data, naiveConvT(x, w, 2, 1, 8, 8));
      gradcheck((x, w, b) => F.convTranspose2d(x, w, b, { stride: 2, padding: 'same' }), [randn([1, 2, 3, 3], 68), randn([2, 3, 5, 5], 69), randn([3], 70)]);
      gradcheck((x, w) => F.convTranspose2d(x, w, null, { stride: 1, padding: 1 }), [randn([2, 2, 3, 4], 71), randn([2, 2, 3, 3], 72)]);
    });

    it('losses', () => {
      gradcheck((a) => F.crossEntropy(a, [2, -100, 0]), [randn([3, 4], 73)]);
      gradcheck((a) => F.binaryCrossEntropy(F.sigmoid(a), [1, 0, 0.3]), [randn([3], 74)]);
      gradcheck((a) => F.binaryCrossEntropyWithLogits(a, [1, 0, 0.3]), [randn([3], 75)]);
      gradcheck((a) => F.mseLoss(a, [1, 2, 3]), [randn([3], 76)]);
      // cross-entropy by hand: −log softmax(x)[t]
      const ce = F.crossEntropy(Tensor.from([[1, 2, 3]]), [0]).item();
      expect(ce).toBeCloseTo(-Math.log(Math.exp(1) / (Math.exp(1) + Math.exp(2) + Math.exp(3))), 5);
      // stable with extreme logits
      const bl = F.binaryCrossEntropyWithLogits(Tensor.from([1000, -1000]), [0, 1]).item();
      expect(bl).toBeCloseTo(1000, 3);
      // probability BCE clamps log at −100 as PyTorch
      expect(F.binaryCrossEntropy(Tensor.from([0]), [1]).item()).toBeCloseTo(100, 4);
      expect(F.crossEntropy(randn([2, 3], 77), [-100, -100]).item()).toBe(0);
    });

    it('scaled dot-product attention', () => {
      gradcheck((q, k, v) => F.scaledDotProductAttention(q, k, v, { causal: true }), [randn([1, 2, 4, 3], 78), randn([1, 2, 4, 3], 79), randn([1, 2, 4, 3], 80)]);
      gradcheck((q, k, v) => F.scaledDotProductAttention(q, k, v, { causal: true, keyMask: [0, 1, 1, 1, 1, 1] }), [randn([2, 1, 1, 3], 81), randn([2, 1, 3, 3], 82), randn([2, 1, 3, 3], 83)]);
      // Dropout on the probabilities: the gradient holds for a fixed mask (same seed each call),
      // and the output equals dropout(softmax(...)) · v composed from the basic ops.
      const att = (q: Tensor, k: Tensor, v: Tensor) => F.scaledDotProductAttention(q, k, v, { causal: true, dropout: { p: 0.4, rng: new Rng(9) } });
      gradcheck(att, [randn([1, 2, 4, 3], 87), randn([1, 2, 4, 3], 88), randn([1, 2, 4, 3], 89)]);
      {
        const [q, k, v] = [randn([1, 2, 4, 3], 90), randn([1, 2, 4, 3], 91), randn([1, 2, 4, 3], 92)];
        const causal = Tensor.from(Array.from({ length: 16 }, (_, i) => ((i % 4) > Math.floor(i / 4) ? -Infinity : 0)), [4, 4]);
        const probs = F.softmax(F.add(F.scale(F.matmul(q, k, { transB: true }), 1 / Math.sqrt(3)), causal));
        expectClose(att(q, k, v).data, F.matmul(F.dropout(probs, 0.4, new Rng(9), true), v).data, 1e-5);
      }
      // Equal to softmax(qkᵀ/√d + mask)·v composed from the basic ops.
      const q = randn([1, 1, 3, 2], 84), k = randn([1, 1, 3, 2], 85), v = randn([1, 1, 3, 2], 86);
      const y = F.scaledDotProductAttention(q, k, v, { causal: true });
      const s = F.scale(F.matmul(q, k, { transB: true }), 1 / Math.sqrt(2));
      const mask = Tensor.from([0, -Infinity, -Infinity, 0, 0, -Infinity, 0, 0, 0], [3, 3]);
      expectClose(y.data, F.matmul(F.softmax(F.add(s, mask)), v).data, 1e-5);
    });
  });
}

describe('autograd', () => {
  it('accumulates gradients into leaves across backward calls', () => {
    const x = Tensor.from([1, 2, 3], undefined, true);
    F.sum(F.mul(x, x)).backward();
    F.sum(F.mul(x, x)).backward();
    expect(x.grad!.toArray()).toEqual([4, 8, 12]);
    x.zeroGrad();
    expect(x.grad).toBeNull();
  });

  it('sums gradients of a tensor used twice', () => {
    const x = Tensor.from([3], [1], true);
    F.sum(F.add(F.mul(x, x), x)).backward(); // d(x²+x)/dx = 2x+1
    expect(x.grad!.item()).toBe(7);
  });

  it('records nothing under noGrad', () => {
    const x = Tensor.from([1, 2], undefined, true);
    const y = noGrad(() => F.mul(x, 2));
    expect(y.requiresGrad).toBe(false);
    expect(y.node).toBeNull();
  });

  it('needs a scalar or an explicit gradient', () => {
    const x = Tensor.from([1, 2], undefined, true);
    expect(() => F.mul(x, 2).backward()).toThrow(/scalar/);
  });

  it('handles deep graphs without recursion', () => {
    let x = Tensor.from([1], [1], true);
    const x0 = x;
    for (let i = 0; i < 20000; i++) x = F.affine(x, 1, 0.001);
    x.backward();
    expect(x0.grad!.item()).toBe(1);
  });
});

describe('shape errors name the op and both shapes', () => {
  it.each([
    [() => F.add(Tensor.zeros([2, 3]), Tensor.zeros([4])), /add: shapes \[2, 3\] and \[4\]/],
    [() => F.matmul(Tensor.zeros([2, 3]), Tensor.zeros([4, 5])), /matmul: inner dimensions differ: \[2, 3\] · \[4, 5\]/],
    [() => F.linear(Tensor.zeros([2, 3]), Tensor.zeros([4, 5])), /linear: input \[2, 3\] does not end in 5 \(weight \[4, 5\]\)/],
    [() => F.conv2d(Tensor.zeros([1, 3, 8, 8]), Tensor.zeros([4, 2, 3, 3])), /conv2d: input \[1, 3, 8, 8\] and weight \[4, 2, 3, 3\]/],
    [() => F.reshape(Tensor.zeros([2, 3]), [4, 2]), /reshape: cannot reshape \[2, 3\]/],
    [() => F.concat([Tensor.zeros([2, 3]), Tensor.zeros([3, 3])], 1), /concat: shapes \[2, 3\] and \[3, 3\]/],
  ])('%#', (f, msg) => {
    expect(f).toThrow(msg);
  });
});

describe('gradcheck itself', () => {
  it('rejects a gradient that is 5% off', () => {
    const bad = (a: Tensor) => makeResult(a.data.map((x) => x * x), a.shape, [a], (g) => [g.map((gi, i) => gi * 2.1 * a.data[i])]);
    expect(() => gradcheck(bad, [randn([5], 1)])).toThrow(/analytic/);
  });
});

describe('fused LM head + cross-entropy', () => {
  for (const be of backends) {
    it(`equals crossEntropy(linear(x, w)) in value and gradients (${be.name})`, () => {
      setBackend(be);
      const targets = [3, -100, 0, 6, 6];
      const x1 = randn([5, 4], 90), w1 = randn([7, 4], 91);
      const x2 = x1.clone(), w2 = w1.clone();
      for (const t of [x1, w1, x2, w2]) t.requiresGrad = true;
      const fused = F.linearCrossEntropy(x1, w1, targets);
      const plain = F.crossEntropy(F.linear(x2, w2), targets);
      expect(fused.item()).toBeCloseTo(plain.item(), 5);
      fused.backward();
      plain.backward();
      expectClose(x1.grad!.data, x2.grad!.data, 1e-5);
      expectClose(w1.grad!.data, w2.grad!.data, 1e-5);
      gradcheck((x, w) => F.linearCrossEntropy(x, w, [1, 2, -100]), [randn([3, 4], 92), randn([5, 4], 93)]);
      // a probability that underflows float32 still gives the exact loss
      const big = F.linearCrossEntropy(Tensor.from([[100, 0]]), Tensor.from([[1, 0], [-1, 0]]), [1]);
      expect(big.item()).toBeCloseTo(200, 3);
    });
  }
});
