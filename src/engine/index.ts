/** The aigc engine: tensors, autograd, ops and the kernel backends. */
export { Tensor, noGrad, isGradEnabled, sizeOf, shapeStr, makeResult, type Shape, type BackwardFn, type GradAccumulator } from './tensor.js';
export { Rng } from './rng.js';
export * as F from './ops/index.js';
export { backend, setBackend, tsBackend, tryNativeBackend, type Backend, type ConvGeometry } from './backend/index.js';
