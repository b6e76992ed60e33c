import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/engine/rng.js';
import { noGrad, Tensor } from '../../src/engine/tensor.js';
import { Discriminator, Generator } from '../../src/image/gan.js';
import { Conv2D, Dense, Flatten, KerasSequential } from '../../src/image/keras.js';
import { presetConfig } from '../../src/image/presets.js';

describe('presets', () => {
  const cases: [string, number, number][] = [['dcgan28', 1, 28], ['dcgan28', 3, 28], ['dcgan32', 1, 32], ['dcgan32', 3, 32], ['dcgan64', 1, 64], ['dcgan64', 3, 64], ['seed64', 3, 64]];
  for (const [preset, channels, size] of cases) {
    it(`${preset} ${channels}-channel: G makes ${size}x${size}x${channels} in the output range, D reads it`, () => {
      const labels = ['a', 'b', 'c'];
      const cfg = presetConfig(preset, { channels, latentDim: 16, width: 8, labels });
      const G = new Generator(cfg, new Rng(1)), D = new Discriminator(cfg, new Rng(2));
      const z = new Tensor(new Rng(3).fillNormal(new Float32Array(2 * 16)), [2, 16]);
      const x = noGrad(() => G.forward(z, [0, 2]));
      expect(x.shape).toEqual([2, channels, size, size]);
      const lo = cfg.output === 'tanh' ? -1 : 0;
      expect(x.toArray().every((v) => v >= lo && v <= 1)).toBe(true);
      const out = noGrad(() => D.forward(x));
      expect(out.prob.shape).toEqual([2, 1]);
      expect(out.classLogits!.shape).toEqual([2, 3]);
      expect(() => G.forward(z)).toThrow(/needs one label per latent vector/);
    });
  }

  it('follows the DCGAN paper: batch norm, LeakyReLU in D, tanh out, N(0, 0.02) weights; width and latent configurable', () => {
    const cfg = presetConfig('dcgan64', { width: 16, latentDim: 64 });
    const G = new Generator(cfg, new Rng(5));
    const kinds = G.net.summary();
    expect(kinds).toMatch(/BatchNorm/);
    expect(kinds).toMatch(/Tanh/);
    expect(new Discriminator(cfg).net.summary()).toMatch(/LeakyReLU/);
    const w = G.net.stateDict().get('4.weight')!; // first transposed conv: (8w=128, 4w=64, 4, 4)
    expect(w.shape).toEqual([128, 64, 4, 4]);
    let s = 0, s2 = 0;
    for (const v of w.data) { s += v; s2 += v * v; }
    const std = Math.sqrt(s2 / w.size - (s / w.size) ** 2);
    expect(std).toBeGreaterThan(0.018);
    expect(std).toBeLessThan(0.022);
    expect(G.net.inputShape).toEqual([64]);
  });

  it('rejects bad configurations with clear messages', () => {
    expect(() => presetConfig('dcgan99')).toThrow(/unknown preset "dcgan99"; choose one of: seed64, dcgan28, dcgan32, dcgan64/);
    expect(() => presetConfig('seed64', { channels: 1 })).toThrow(/seed64 makes 64x64x3 images/);
    expect(() => presetConfig('dcgan32', { channels: 2 })).toThrow(/channels must be 1 or 3/);
  });

  it('the Keras-style builder infers shapes like Keras', () => {
    const m = new KerasSequential({ inputShape: [28, 28, 1] });
    m.add(Conv2D(8, 5, { strides: 2, padding: 'same', activation: 'relu' }));
    expect(m.outputShape).toEqual([8, 14, 14]);
    m.add(Conv2D(4, 3, { padding: 'valid' }));
    expect(m.outputShape).toEqual([4, 12, 12]);
    expect(() => m.add(Dense(3))).toThrow(/Dense\(3\) needs a flat input, got \(12, 12, 4\); add Flatten\(\) first/);
    m.add(Flatten());
    m.add(Dense(3, { activation: 'sigmoid' }));
    expect(m.outputShape).toEqual([3]);
  });
});
