/**
 * Loads the C++ addon (native/, built by node-gyp at install time into
 * build/Release/aigc_native.node) and wraps it as a Backend.
 *
 * The addon validates every array (type and minimal length, TypeError otherwise), respects
 * subarray byte offsets, picks AVX-512 (+BF16) / AVX2 / portable code at runtime (AIGC_NATIVE_ISA can
 * force a lower level) and runs on a persistent thread pool (AIGC_THREADS; workers spin
 * AIGC_SPIN_US = 100 µs after a job, then sleep).
 *
 * Numerics: everything computes in fp32 with FMA (the TS reference sums in float64), so results
 * agree to ~1e-6..1e-5 relative to the largest output. The inference linears (linearF32,
 * linearBf16, linearInt8) take their weights in row panels (engine/panels.ts), so a GEMV reads
 * one sequential stream. linearBf16 widens the bf16 weights to fp32 exactly (a 16-bit shift) and
 * keeps x in fp32 — the same math as the reference — except on the avx512bf16 level with M > 64
 * (prefill), a compute-bound GEMM, where x is rounded to bf16 once and vdpbf16ps does twice the
 * multiply-adds of an FMA (as PyTorch's bf16 does; AIGC_NATIVE_ISA=avx512 keeps x exact).
 * linearInt8 converts the int8 weights to fp32 exactly and applies the per-row scale after the
 * dot product (GEMV, M <= 64) or folds it into the packed weight panel (GEMM, M > 64); x is not
 * quantized (no VNNI: with the weights streamed in order the GEMV is bound by memory bandwidth,
 * and VNNI measured no faster), so the only error is fp32 rounding.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ActivationKind, Backend, ConvGeometry } from './types.js';

/** The addon's activation numbering. */
const ACTIVATION_CODES: Record<ActivationKind, number> = { relu: 0, leakyRelu: 1, sigmoid: 2, tanh: 3 };

export type NativeIsa = 'avx512bf16' | 'avx512' | 'avx2' | 'scalar';

/** The native backend plus addon controls (ISA level and thread count), for tests and benchmarks. */
export interface NativeBackend extends Backend {
  readonly name: 'native';
  /** ISA level in use. */
  isa(): NativeIsa;
  /** Force an ISA level (must be supported by the CPU); returns the level in use. */
  setIsa(isa: NativeIsa): NativeIsa;
  /** ISA levels this CPU supports, best first. */
  availableIsas(): NativeIsa[];
  /** Limit the threads the kernels use (1..pool size); returns the count in use. */
  setThreads(n: number): number;
  /** MADV_HUGEPAGE over the 2 MiB-aligned part of a fresh buffer (Linux); the bytes advised. */
  adviseHugePages(view: ArrayBufferView): number;
}

interface Addon {
  matmul(a: Float32Array, b: Float32Array, c: Float32Array, batch: number, m: number, n: number, k: number,
    transA: boolean, transB: boolean, strideA: number, strideB: number, strideC: number, accumulate: boolean): void;
  linearBf16(x: Float32Array, w: Uint16Array, bias: Float32Array | null, y: Float32Array, m: number, n: number, k: number): void;
  linearInt8(x: Float32Array, w: Int8Array, scales: Float32Array, bias: Float32Array | null, y: Float32Array, m: number, n: number, k: number): void;
  linearF32(x: Float32Array, w: Float32Array, bias: Float32Array | null, y: Float32Array, m: number, n: number, k: number): void;
  adviseHugePages(view: ArrayBufferView): number;
  streamSum(view: ArrayBufferView): number;
  attentionDecode(qkv: Float32Array, k: Float32Array, v: Float32Array, y: Float32Array, keyMask: Uint8Array | null,
    batch: number, heads: number, headDim: number, capacity: number, length: number, scale: number): void;
  conv2dForward(x: Float32Array, w: Float32Array, bias: Float32Array | null, y: Float32Array, g: Int32Array): void;
  conv2dBackwardInput(dy: Float32Array, w: Float32Array, dx: Float32Array, g: Int32Array): void;
  conv2dBackwardWeight(x: Float32Array, dy: Float32Array, dw: Float32Array, g: Int32Array, accumulate: boolean): void;
  softmaxForward(x: Float32Array, y: Float32Array, rows: number, cols: number): void;
  softmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number): void;
  layerNormForward(x: Float32Array, gamma: Float32Array | null, beta: Float32Array | null, y: Float32Array,
    mean: Float32Array, rstd: Float32Array, rows: number, cols: number, eps: number): void;
  layerNormBackward(dy: Float32Array, x: Float32Array, gamma: Float32Array | null, mean: Float32Array, rstd: Float32Array,
    dx: Float32Array, dgamma: Float32Array | null, dbeta: Float32Array | null, rows: number, cols: number): void;
  geluForward(x: Float32Array, y: Float32Array): void;
  channelBiasAdd(y: Float32Array, bias: Float32Array, batch: number, channels: number, hw: number): void;
  channelSums(dy: Float32Array, out: Float32Array, batch: number, channels: number, hw: number): void;
  activationForward(kind: number, x: Float32Array, y: Float32Array, slope: number): void;
  activationBackward(kind: number, y: Float32Array, g: Float32Array, dx: Float32Array, slope: number): void;
  geluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  adamStep(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, lr: number, beta1: number, beta2: number,
    eps: number, weightDecay: number, step: number, decoupled: boolean): void;
  getIsa(): NativeIsa;
  setIsa(isa: string): NativeIsa;
  availableIsas(): NativeIsa[];
  threads(): number;
  setThreads(n: number): number;
}

/** The package root: the nearest ancestor of this module's folder holding aigc's package.json
 *  (this file runs from src/engine/backend under vitest and from dist/engine/backend after tsc). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if (JSON.parse(readFileSync(pj, 'utf8')).name === 'aigc') return dir;
      } catch {
        // not ours; keep walking
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the aigc package root above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

let cached: NativeBackend | undefined;

export function loadNativeBackend(): NativeBackend {
  if (cached) return cached;
  const root = packageRoot();
  const file = path.join(root, 'build', 'Release', 'aigc_native.node');
  if (!existsSync(file)) {
    throw new Error(`native addon not built: ${file} is missing (run \`node scripts/build-native.mjs\` or \`npm install\`)`);
  }
  let addon: Addon;
  try {
    addon = createRequire(import.meta.url)(file) as Addon;
  } catch (e) {
    throw new Error(`native addon ${file} failed to load: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof addon.matmul !== 'function') throw new Error(`native addon ${file} does not export the aigc kernels`);

  // Geometry travels as one reused Int32Array (reading 13 object properties in C++ costs more).
  const geo = new Int32Array(13);
  const packGeo = (g: ConvGeometry): Int32Array => {
    geo[0] = g.batch; geo[1] = g.cIn; geo[2] = g.hIn; geo[3] = g.wIn;
    geo[4] = g.cOut; geo[5] = g.hOut; geo[6] = g.wOut; geo[7] = g.kH; geo[8] = g.kW;
    geo[9] = g.strideH; geo[10] = g.strideW; geo[11] = g.padTop; geo[12] = g.padLeft;
    return geo;
  };

  const b: NativeBackend = {
    name: 'native',
    get threads() { return addon.threads(); },
    matmul: addon.matmul,
    linearBf16: addon.linearBf16,
    linearInt8: addon.linearInt8,
    linearF32: addon.linearF32,
    adviseStreamed: (view) => { addon.adviseHugePages(view); },
    adviseHugePages: addon.adviseHugePages,
    streamSum: addon.streamSum,
    attentionDecode: addon.attentionDecode,
    conv2dForward: (x, w, bias, y, g) => addon.conv2dForward(x, w, bias, y, packGeo(g)),
    conv2dBackwardInput: (dy, w, dx, g) => addon.conv2dBackwardInput(dy, w, dx, packGeo(g)),
    conv2dBackwardWeight: (x, dy, dw, g, accumulate) => addon.conv2dBackwardWeight(x, dy, dw, packGeo(g), accumulate),
    softmaxForward: addon.softmaxForward,
    softmaxBackward: addon.softmaxBackward,
    layerNormForward: addon.layerNormForward,
    layerNormBackward: addon.layerNormBackward,
    geluForward: addon.geluForward,
    channelBiasAdd: addon.channelBiasAdd,
    channelSums: addon.channelSums,
    activationForward: (kind, x, y, slope) => addon.activationForward(ACTIVATION_CODES[kind], x, y, slope),
    activationBackward: (kind, y, g, dx, slope) => addon.activationBackward(ACTIVATION_CODES[kind], y, g, dx, slope),
    geluBackward: addon.geluBackward,
    adamStep: addon.adamStep,
    isa: () => addon.getIsa(),
    setIsa: (isa) => addon.setIsa(isa),
    availableIsas: () => addon.availableIsas(),
    setThreads: (n) => addon.setThreads(n),
  };
  cached = b;
  return b;
}
