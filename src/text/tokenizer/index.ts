/** GPT-2 byte-level BPE tokenizer: loading, encoding, decoding, saving and training. */
export { ByteLevelBPETokenizer, GPT2Tokenizer, escapeRegex } from './bpe.js';
export type { AddedToken, BPETokenizerOptions, DecodeOptions, EncodeOptions, StreamDecoder } from './bpe.js';
export { TokenizerError } from './errors.js';
export { GPT2_PATTERN, bytesToUnicode, gpt2ByteOrder, gpt2Regex, pretokenize } from './pretokenize.js';
export { gpt2PackageFiles, loadGpt2FromPackage } from './gpt2.js';
export { trainByteLevelBPE } from './train.js';
export type { TrainBPEOptions } from './train.js';
