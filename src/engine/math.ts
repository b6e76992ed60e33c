/** Scalar helpers shared by the engine's ops and its TypeScript backend. */

/** The logistic function, stable for large |v|: it never exponentiates a large positive number. */
export function sigmoidScalar(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}
