export { Module, Layer } from './module.js';
export * from './layers.js';
export * from './init.js';
export * from './optim.js';
