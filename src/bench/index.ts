/**
 * The benchmark suites behind `aigc bench NAME`. Each is an async generator of BenchRecords,
 * loaded on demand so one suite's dependencies never slow down another.
 */
import type { Backend } from '../engine/backend/types.js';
import type { BenchRecord } from './record.js';

export interface BenchOptions {
  backend: Backend;
  /** Shorter runs (fewer repetitions) for smoke tests. */
  quick?: boolean;
}

export type BenchSuite = (opts: BenchOptions) => AsyncGenerator<BenchRecord>;

export const benchSuites: Record<string, { describe: string; load: () => Promise<BenchSuite> }> = {
  kernels: {
    describe: 'GEMV/GEMM at GPT-2 124M shapes and the seed DCGAN convolutions (forward+backward)',
    load: async () => (await import('./kernels.js')).benchKernels,
  },
  generate: {
    describe: 'GPT-2 124M (random weights) prefill and KV-cache decode, fp32/bf16/int8 weights, with each decode case\'s memory roofline; measured as the PyTorch anchor gpt2_infer_bench.py (scripts/bench-vs-anchors.sh runs both)',
    load: async () => (await import('./generate.js')).benchGenerate,
  },
  gan: {
    describe: 'ms per training step of the seed DCGAN (seed64) at batch 16 and 64, measured as the PyTorch anchor dcgan_train_bench.py',
    load: async () => (await import('./gan.js')).benchGan,
  },
  train: {
    describe: 'ms per GPT training step (AdamW, fp32): GPT-2 124M at batch 4x64 and a 4-layer x 256 model at batch 8x128, measured as the PyTorch anchor gpt2_train_bench.py',
    load: async () => (await import('./train.js')).benchTrain,
  },
  tokenizer: {
    describe: 'GPT-2 BPE encode throughput, aigc vs js-tiktoken on the same text',
    load: async () => (await import('./tokenizer.js')).benchTokenizer as BenchSuite,
  },
};
