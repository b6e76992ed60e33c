/**
 * Fréchet distance between two sets of feature vectors, each modelled as a Gaussian:
 *   d² = |μ₁ − μ₂|² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^½)
 * (as FID computes it on Inception features). Tr (Σ₁ Σ₂)^½ is computed as the sum of the
 * square roots of the eigenvalues of Σ₁^½ Σ₂ Σ₁^½ (symmetric, so a Jacobi eigen-solver in
 * float64 is exact enough and needs no complex arithmetic).
 */

export interface Gaussian { mean: Float64Array; cov: Float64Array; dim: number; count: number }

/** Mean and (unbiased) covariance of `count` rows of `dim` features. */
export function gaussianOf(features: ArrayLike<number>, count: number, dim: number): Gaussian {
  const mean = new Float64Array(dim), cov = new Float64Array(dim * dim);
  for (let i = 0; i < count; i++) for (let j = 0; j < dim; j++) mean[j] += features[i * dim + j];
  for (let j = 0; j < dim; j++) mean[j] /= count;
  const row = new Float64Array(dim);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < dim; j++) row[j] = features[i * dim + j] - mean[j];
    for (let a = 0; a < dim; a++) {
      const ra = row[a];
      if (ra === 0) continue;
      const o = a * dim;
      for (let b = a; b < dim; b++) cov[o + b] += ra * row[b];
    }
  }
  const k = 1 / Math.max(1, count - 1);
  for (let a = 0; a < dim; a++) for (let b = a; b < dim; b++) { cov[a * dim + b] *= k; cov[b * dim + a] = cov[a * dim + b]; }
  return { mean, cov, dim, count };
}

/** Eigen-decomposition of a symmetric matrix (cyclic Jacobi). Returns eigenvalues and eigenvectors (columns of v). */
export function symmetricEigen(m: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(m), v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0, diag = 0;
    for (let p = 0; p < n; p++) { diag += a[p * n + p] ** 2; for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2; }
    if (off <= 1e-22 * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const app = a[p * n + p], aqq = a[q * n + q];
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i];
  return { values, vectors: v };
}

function matmulSq(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) {
    const aik = a[i * n + k];
    if (aik === 0) continue;
    for (let j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j];
  }
  return c;
}

/** Symmetric PSD square root V diag(√max(λ, 0)) Vᵀ. */
export function sqrtPsd(m: Float64Array, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(m, n);
  const vs = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) vs[i * n + j] = vectors[i * n + j] * Math.sqrt(Math.max(values[j], 0));
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += vs[i * n + k] * vectors[j * n + k];
    out[i * n + j] = s;
  }
  return out;
}

export function frechetDistance(a: Gaussian, b: Gaussian): number {
  const n = a.dim;
  let meanTerm = 0;
  for (let i = 0; i < n; i++) meanTerm += (a.mean[i] - b.mean[i]) ** 2;
  let tr = 0;
  for (let i = 0; i < n; i++) tr += a.cov[i * n + i] + b.cov[i * n + i];
  const s1 = sqrtPsd(a.cov, n);
  const m = matmulSq(matmulSq(s1, b.cov, n), s1, n);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) { const avg = (m[i * n + j] + m[j * n + i]) / 2; m[i * n + j] = avg; m[j * n + i] = avg; }
  const { values } = symmetricEigen(m, n);
  let trSqrt = 0;
  for (const v of values) trSqrt += Math.sqrt(Math.max(v, 0));
  return Math.max(0, meanTerm + tr - 2 * trSqrt);
}
