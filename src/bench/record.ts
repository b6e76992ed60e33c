/** One benchmark figure: `aigc bench NAME --json` prints one of these per line. */
export interface BenchRecord {
  bench: string;
  case: string;
  ms: number;
  threads: number;
  backend: string;
  gflops?: number;
  gbps?: number;
  tokens_per_s?: number;
  peak_rss_mib?: number;
  mb_per_s?: number;
  /** Decode: MB of weights one step streams. */
  weight_mb?: number;
  /** Decode: best ms of a read-only pass over those weights (the memory roofline). */
  read_ms?: number;
  /** Decode: batch / read_ms, in tokens per second. */
  roofline_tokens_per_s?: number;
  /** Decode: tokens_per_s / roofline_tokens_per_s. */
  of_roofline?: number;
}

/** Median of repeated timings, as the PyTorch anchors compute it: warm-up, then the median of
 *  `reps` rounds of `calls` calls each. Returns ms per call. */
export function timeMedian(f: () => void, calls: number, reps = 5, warmup = 3): number {
  for (let i = 0; i < warmup; i++) f();
  const rounds: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    for (let i = 0; i < calls; i++) f();
    rounds.push((performance.now() - t) / calls);
  }
  rounds.sort((a, b) => a - b);
  return rounds[Math.floor(rounds.length / 2)];
}

export function peakRssMiB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}
