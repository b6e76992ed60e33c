/**
 * Tokenizer errors. `TokenizerError` is the toolkit-wide one from `src/errors.ts` (an
 * `AigcError` with `name === 'TokenizerError'` and `code === 'bad_input'` by default).
 */
export { TokenizerError } from '../../errors.js';
