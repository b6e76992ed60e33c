/** aigc's library API. */
export * from './engine/index.js';
export * as nn from './nn/index.js';
export * from './errors.js';
export { VERSION } from './version.js';
export * from './text/pipeline.js';
export * from './image/pipeline.js';
