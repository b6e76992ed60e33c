/** All tensor ops, as free functions (import * as F from './ops/index.js'). */
export * from './elementwise.js';
export * from './shape.js';
export * from './reduce.js';
export * from './matmul.js';
export * from './norm.js';
export * from './conv.js';
export * from './loss.js';
export * from './dropout.js';
export * from './attention.js';
