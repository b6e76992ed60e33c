import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/engine/rng.js';
import { frechetDistance, gaussianOf, sqrtPsd, symmetricEigen } from '../../src/image/frechet.js';

describe('Fréchet distance', () => {
  it('eigen-decomposes and square-roots symmetric matrices', () => {
    const m = Float64Array.from([4, 1, 0, 1, 3, 1, 0, 1, 2]);
    const { values } = symmetricEigen(m, 3);
    const sorted = Array.from(values).sort((a, b) => a - b);
    // Characteristic polynomial roots of this matrix: 3 - √3, 3, 3 + √3.
    expect(sorted[0]).toBeCloseTo(3 - Math.sqrt(3), 10);
    expect(sorted[1]).toBeCloseTo(3, 10);
    expect(sorted[2]).toBeCloseTo(3 + Math.sqrt(3), 10);
    const r = sqrtPsd(m, 3);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += r[i * 3 + k] * r[k * 3 + j];
      expect(s).toBeCloseTo(m[i * 3 + j], 10);
    }
  });

  it('matches the closed form for diagonal Gaussians and is 0 for identical sets', () => {
    const a = { mean: Float64Array.from([0, 1]), cov: Float64Array.from([4, 0, 0, 1]), dim: 2, count: 0 };
    const b = { mean: Float64Array.from([3, 1]), cov: Float64Array.from([1, 0, 0, 9]), dim: 2, count: 0 };
    // |Δμ|² + Σ (σa + σb − 2√(σa σb)) = 9 + (4 + 1 − 4) + (1 + 9 − 6) = 14
    expect(frechetDistance(a, b)).toBeCloseTo(14, 9);
    const rng = new Rng(1), f = rng.fillNormal(new Float32Array(500 * 8));
    const g = gaussianOf(f, 500, 8);
    expect(frechetDistance(g, g)).toBeLessThan(1e-6);
    const shifted = f.map((v, i) => (i % 8 === 0 ? v + 2 : v));
    expect(frechetDistance(gaussianOf(shifted, 500, 8), g)).toBeCloseTo(4, 6);
  });
});
