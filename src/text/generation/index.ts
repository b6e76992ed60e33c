/** Text generation: options, logits processors, sampling, beam search, stop strings, the loop. */
export * from './options.js';
export * from './logits-processors.js';
export * from './sampling.js';
export * from './stop-strings.js';
export { beamSearch } from './beam-search.js';
export { fitPrompts, generateTokens, leftPad } from './generate.js';
export type { CausalLM, FinishReason, GenerationRun, LMCache, SequenceOutput, TokenListener } from './generate.js';
export { canBatchDecode, DecodeBatcher } from './batcher.js';
export type { BatchDecodeLM } from './batcher.js';
