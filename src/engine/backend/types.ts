/**
 * The kernel interface. Every hot loop of aigc goes through one of these functions, and there
 * are two implementations: `ts.ts` (plain TypeScript, the reference) and `native.ts` (the C++
 * addon in `native/`, AVX-512 / AVX2 / portable, multi-threaded). Tests run every kernel on
 * both and compare.
 *
 * Conventions:
 * - All arrays are dense, row-major, float32 unless the name says otherwise. Callers pass
 *   `subarray` views for offsets; kernels never allocate their outputs.
 * - Images are NCHW. Conv weights are [cOut, cIn, kH, kW] (PyTorch's Conv2d layout).
 * - "Set" kernels overwrite their output; "accumulate" flags add into it instead.
 */

/** Geometry of a 2-D convolution from an input (N, cIn, hIn, wIn) to an output (N, cOut, hOut, wOut).
 *  Padding is given as top/left only: the bottom/right padding is whatever makes hOut/wOut fit, so
 *  asymmetric schemes such as Keras 'same' with stride 2 are expressible. A transposed convolution
 *  is described by the geometry of the convolution it is the adjoint of (its output is `in` here). */
export interface ConvGeometry {
  batch: number;
  cIn: number;
  hIn: number;
  wIn: number;
  cOut: number;
  hOut: number;
  wOut: number;
  kH: number;
  kW: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padLeft: number;
}

export interface Backend {
  readonly name: 'ts' | 'native';
  /** Threads the kernels use (1 for the TS backend). */
  readonly threads: number;

  /**
   * Batched matrix product. For each b < batch:
   *   C[b] (M×N)  =  op(A[b]) (M×K) · op(B[b]) (K×N)   (+ C[b] if accumulate)
   * op(A) is A stored M×K, or with transA, Aᵀ of A stored K×M; likewise B is K×N or, with
   * transB, N×K (nn.Linear's [out, in] weight layout). strideA/B/C are the element offsets
   * between consecutive batch items; a stride of 0 broadcasts one matrix over the batch.
   */
  matmul(
    a: Float32Array, b: Float32Array, c: Float32Array,
    batch: number, m: number, n: number, k: number,
    transA: boolean, transB: boolean,
    strideA: number, strideB: number, strideC: number,
    accumulate: boolean,
  ): void;

  /**
   * Optional: `view` is a fresh buffer, not yet written, that will hold weights streamed on every
   * token; the backend may back it with huge pages (native: madvise MADV_HUGEPAGE on Linux).
   */
  adviseStreamed?(view: ArrayBufferView): void;

  /**
   * The sum of `view`'s bytes read as little-endian 32-bit words, modulo 2^32 (a partial last
   * word zero-padded). It reads every byte once, with every thread, as a weight-streaming GEMV
   * does: timed over a model's packed weights it is the best a decode step's weight pass can do
   * on this machine (the benchmarks' memory roofline). The sum makes the pass checkable.
   */
  streamSum(view: ArrayBufferView): number;

  /**
   * y (M×N) = x (M×K) · Wᵀ + bias, W [N, K] given as fp32 in row-panel layout
   * (engine/panels.ts: toPanels). bias may be null. The inference twin of matmul with transB:
   * same numbers, weights laid out for streaming.
   */
  linearF32(x: Float32Array, w: Float32Array, bias: Float32Array | null, y: Float32Array, m: number, n: number, k: number): void;

  /**
   * y (M×N) = x (M×K) · Wᵀ + bias, W [N, K] given as bf16 bits (Uint16Array) in row-panel
   * layout (engine/panels.ts: toPanels). bias may be null.
   */
  linearBf16(x: Float32Array, w: Uint16Array, bias: Float32Array | null, y: Float32Array, m: number, n: number, k: number): void;

  /**
   * y (M×N) = x (M×K) · (Wq · scale)ᵀ + bias, Wq [N, K] given as int8 in row-panel layout
   * (engine/panels.ts: toPanels), with one float scale per row.
   */
  linearInt8(x: Float32Array, w: Int8Array, scales: Float32Array, bias: Float32Array | null, y: Float32Array, m: number, n: number, k: number): void;

  /**
   * Decode attention: one new token per sequence over a KV cache. qkv (B, 3·H·D) holds the new
   * token's q, k and v (heads side by side); k and v (B, H, capacity, D) are the caches with
   * `length` columns filled. Writes the new k, v at column `length`, then for every (b, h)
   *   y[b, h·D:(h+1)·D] = softmax(scale · q · K[:, 0..length]ᵀ) · V[:, 0..length]
   * where a column j < length with keyMask[b·capacity + j] == 0 is hidden (left padding).
   */
  attentionDecode(
    qkv: Float32Array, k: Float32Array, v: Float32Array, y: Float32Array, keyMask: Uint8Array | null,
    batch: number, heads: number, headDim: number, capacity: number, length: number, scale: number,
  ): void;

  /** y = conv2d(x, w) + bias (bias per output channel, may be null). Sets y. */
  conv2dForward(x: Float32Array, w: Float32Array, bias: Float32Array | null, y: Float32Array, g: ConvGeometry): void;
  /** dx = ∂/∂x of conv2d given dy. Sets dx (this is also the forward pass of conv-transpose). */
  conv2dBackwardInput(dy: Float32Array, w: Float32Array, dx: Float32Array, g: ConvGeometry): void;
  /** dw (+)= ∂/∂w of conv2d given x and dy. With accumulate, adds into dw. */
  conv2dBackwardWeight(x: Float32Array, dy: Float32Array, dw: Float32Array, g: ConvGeometry, accumulate: boolean): void;

  /** Softmax over the last axis of a rows×cols matrix (in place allowed: y may be x). */
  softmaxForward(x: Float32Array, y: Float32Array, rows: number, cols: number): void;
  /** dx = y ⊙ (dy − Σ(dy ⊙ y)) per row. Sets dx. */
  softmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number): void;

  /** Layer norm over the last axis; writes y and, for backward, mean and rstd (length rows). */
  layerNormForward(
    x: Float32Array, gamma: Float32Array | null, beta: Float32Array | null, y: Float32Array,
    mean: Float32Array, rstd: Float32Array, rows: number, cols: number, eps: number,
  ): void;
  /** Sets dx; adds into dgamma and dbeta (when not null). */
  layerNormBackward(
    dy: Float32Array, x: Float32Array, gamma: Float32Array | null, mean: Float32Array, rstd: Float32Array,
    dx: Float32Array, dgamma: Float32Array | null, dbeta: Float32Array | null, rows: number, cols: number,
  ): void;

  /** y = f(x) elementwise (y may be x); slope is leaky ReLU's negative slope (> 0), else unused. */
  activationForward(kind: ActivationKind, x: Float32Array, y: Float32Array, slope: number): void;
  /** dx = g · f'(x), from the forward's output y (relu, leaky relu: its sign; sigmoid: y(1−y); tanh: 1−y²). */
  activationBackward(kind: ActivationKind, y: Float32Array, g: Float32Array, dx: Float32Array, slope: number): void;

  /** y (batch, channels, hw) += bias[channel]: a convolution's bias. */
  channelBiasAdd(y: Float32Array, bias: Float32Array, batch: number, channels: number, hw: number): void;
  /** out[c] = Σ over batch and hw of dy (batch, channels, hw): the bias gradient. Sets out. */
  channelSums(dy: Float32Array, out: Float32Array, batch: number, channels: number, hw: number): void;

  /** GELU, tanh approximation (GPT-2's "gelu_new"). */
  geluForward(x: Float32Array, y: Float32Array): void;
  /** Sets dx = dy · gelu'(x). */
  geluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array): void;

  /**
   * One Adam/AdamW update of a parameter, in place on p, m, v. step is 1-based (bias
   * correction as PyTorch). weightDecay is L2 added to the gradient when !decoupled (Adam) and
   * decoupled decay p -= lr·wd·p when decoupled (AdamW).
   */
  adamStep(
    p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array,
    lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number, decoupled: boolean,
  ): void;
}

/** Pointwise activations with a native kernel (Backend.activationForward/Backward). */
export type ActivationKind = 'relu' | 'leakyRelu' | 'sigmoid' | 'tanh';
