/**
 * 2-D convolution and transposed convolution (NCHW) on the backend's three conv kernels.
 * A transposed convolution is the adjoint of a convolution, so the same three kernels serve
 * both: convT.forward = conv.backwardInput, convT.backwardInput = conv.forward, and the weight
 * gradient is conv.backwardWeight with the roles of input and output swapped.
 */
import { ShapeError } from '../../errors.js';
import { backend, type ConvGeometry } from '../backend/index.js';
import { makeResult, shapeStr, Tensor } from '../tensor.js';

/**
 * Padding: a number (all sides), [top/bottom, left/right], or Keras-style 'same' / 'valid'.
 * 'same' follows TensorFlow: total padding max((out−1)·s + k − in, 0) with the extra pixel at
 * the bottom/right, so output size is ceil(in / stride).
 */
export type Padding = number | readonly [number, number] | 'same' | 'valid';

export interface Conv2dOptions {
  /** Stride (default 1). */
  stride?: number | readonly [number, number];
  /** Padding (default 0). */
  padding?: Padding;
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  /** Extra rows/cols added to the bottom/right of the output (PyTorch's output_padding; default 0). */
  outputPadding?: number | readonly [number, number];
}

function pair(v: number | readonly [number, number] | undefined, dflt: number): [number, number] {
  if (v === undefined) return [dflt, dflt];
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

/** Output size and top/left padding of a convolution along one axis. */
function convAxis(inSize: number, k: number, s: number, padding: Padding, axis: 0 | 1): { out: number; padBefore: number } {
  if (padding === 'same') {
    const out = Math.ceil(inSize / s);
    const total = Math.max((out - 1) * s + k - inSize, 0);
    return { out, padBefore: Math.floor(total / 2) };
  }
  const p = padding === 'valid' ? 0 : pair(padding, 0)[axis];
  return { out: Math.floor((inSize + 2 * p - k) / s) + 1, padBefore: p };
}

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new ShapeError(`${name} must be an integer >= ${min}, got ${v}`, { code: 'bad_input' });
}

/** x (N, cIn, H, W) ⊛ w (cOut, cIn, kH, kW) + bias (cOut) -> (N, cOut, Ho, Wo). */
export function conv2d(x: Tensor, w: Tensor, bias: Tensor | null = null, opts: Conv2dOptions = {}): Tensor {
  if (x.ndim !== 4 || w.ndim !== 4 || x.shape[1] !== w.shape[1]) {
    throw new ShapeError(`conv2d: input ${shapeStr(x.shape)} and weight ${shapeStr(w.shape)} do not fit (want (N, C, H, W) and (cOut, C, kH, kW))`);
  }
  const [N, cIn, H, W] = x.shape;
  const [cOut, , kH, kW] = w.shape;
  const [sH, sW] = pair(opts.stride, 1);
  checkInt('conv2d stride', sH, 1); checkInt('conv2d stride', sW, 1);
  const ah = convAxis(H, kH, sH, opts.padding ?? 0, 0), aw = convAxis(W, kW, sW, opts.padding ?? 0, 1);
  if (ah.out < 1 || aw.out < 1) throw new ShapeError(`conv2d: input ${shapeStr(x.shape)} is smaller than kernel ${kH}x${kW} with this padding`);
  checkBias('conv2d', bias, cOut);
  const g: ConvGeometry = {
    batch: N, cIn, hIn: H, wIn: W, cOut, hOut: ah.out, wOut: aw.out,
    kH, kW, strideH: sH, strideW: sW, padTop: ah.padBefore, padLeft: aw.padBefore,
  };
  const y = new Float32Array(N * cOut * g.hOut * g.wOut);
  backend().conv2dForward(x.data, w.data, bias?.data ?? null, y, g);
  const inputs = bias ? [x, w, bias] : [x, w];
  return makeResult(y, [N, cOut, g.hOut, g.wOut], inputs, (dy) => {
    const be = backend();
    let dx: Float32Array | null = null, dw: Float32Array | null = null;
    if (x.requiresGrad) { dx = new Float32Array(x.size); be.conv2dBackwardInput(dy, w.data, dx, g); }
    if (w.requiresGrad) { dw = new Float32Array(w.size); be.conv2dBackwardWeight(x.data, dy, dw, g, false); }
    return bias ? [dx, dw, bias.requiresGrad ? channelSums(dy, N, cOut, g.hOut * g.wOut) : null] : [dx, dw];
  });
}

/**
 * Transposed convolution: x (N, cIn, H, W), w (cIn, cOut, kH, kW) as PyTorch's
 * ConvTranspose2d -> (N, cOut, Ho, Wo). Numeric padding p gives Ho = (H−1)·s − 2p + k + outputPadding
 * (PyTorch); 'same' gives Ho = H·s with TensorFlow's placement (Keras Conv2DTranspose).
 */
export function convTranspose2d(x: Tensor, w: Tensor, bias: Tensor | null = null, opts: ConvTranspose2dOptions = {}): Tensor {
  if (x.ndim !== 4 || w.ndim !== 4 || x.shape[1] !== w.shape[0]) {
    throw new ShapeError(`convTranspose2d: input ${shapeStr(x.shape)} and weight ${shapeStr(w.shape)} do not fit (want (N, C, H, W) and (C, cOut, kH, kW))`);
  }
  const [N, cIn, H, W] = x.shape;
  const [, cOut, kH, kW] = w.shape;
  const [sH, sW] = pair(opts.stride, 1);
  const [oph, opw] = pair(opts.outputPadding, 0);
  checkInt('convTranspose2d stride', sH, 1); checkInt('convTranspose2d stride', sW, 1);
  const padding = opts.padding ?? 0;
  let Ho: number, Wo: number, padTop: number, padLeft: number;
  if (padding === 'same') {
    Ho = H * sH; Wo = W * sW;
    padTop = Math.floor(Math.max((H - 1) * sH + kH - Ho, 0) / 2);
    padLeft = Math.floor(Math.max((W - 1) * sW + kW - Wo, 0) / 2);
  } else {
    const [ph, pw] = padding === 'valid' ? [0, 0] : pair(padding, 0);
    Ho = (H - 1) * sH - 2 * ph + kH + oph; Wo = (W - 1) * sW - 2 * pw + kW + opw;
    padTop = ph; padLeft = pw;
  }
  if (Ho < 1 || Wo < 1) throw new ShapeError(`convTranspose2d: output would be empty for input ${shapeStr(x.shape)}`);
  checkBias('convTranspose2d', bias, cOut);
  // The geometry of the convolution this is the adjoint of: from the (Ho, Wo) image to (H, W).
  const g: ConvGeometry = {
    batch: N, cIn: cOut, hIn: Ho, wIn: Wo, cOut: cIn, hOut: H, wOut: W,
    kH, kW, strideH: sH, strideW: sW, padTop, padLeft,
  };
  const y = new Float32Array(N * cOut * Ho * Wo);
  backend().conv2dBackwardInput(x.data, w.data, y, g);
  if (bias) backend().channelBiasAdd(y, bias.data, N, cOut, Ho * Wo);
  const inputs = bias ? [x, w, bias] : [x, w];
  return makeResult(y, [N, cOut, Ho, Wo], inputs, (dy) => {
    const be = backend();
    let dx: Float32Array | null = null, dw: Float32Array | null = null;
    if (x.requiresGrad) { dx = new Float32Array(x.size); be.conv2dForward(dy, w.data, null, dx, g); }
    if (w.requiresGrad) { dw = new Float32Array(w.size); be.conv2dBackwardWeight(dy, x.data, dw, g, false); }
    return bias ? [dx, dw, bias.requiresGrad ? channelSums(dy, N, cOut, Ho * Wo) : null] : [dx, dw];
  });
}

function checkBias(op: string, bias: Tensor | null, c: number): void {
  if (bias && (bias.ndim !== 1 || bias.size !== c)) throw new ShapeError(`${op}: bias ${shapeStr(bias.shape)} does not match ${c} output channels`);
}

/** The bias gradient: dy (N, C, HW) summed per channel. */
function channelSums(dy: Float32Array, N: number, C: number, HW: number): Float32Array {
  const r = new Float32Array(C);
  backend().channelSums(dy, r, N, C, HW);
  return r;
}
