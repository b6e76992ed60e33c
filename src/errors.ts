/**
 * The aigc error hierarchy. Every error the toolkit raises on purpose is an {@link AigcError}.
 * The CLI prints `err.message` (no stack) and exits with status 2 when `code` is `'bad_input'`
 * (the user's file, model id, config or arguments are wrong), 1 otherwise.
 */

/** What kind of failure: the user's input is wrong (`'bad_input'`) or aigc itself failed (`'internal'`). */
export type AigcErrorCode = 'bad_input' | 'internal';

export class AigcError extends Error {
  readonly code: AigcErrorCode;
  constructor(message: string, options?: { code?: AigcErrorCode; cause?: unknown }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'AigcError';
    this.code = options?.code ?? 'bad_input';
  }
}

/** A checkpoint / weights file is malformed or does not match the model. */
export class CheckpointError extends AigcError {
  constructor(message: string, options?: { code?: AigcErrorCode; cause?: unknown }) {
    super(message, options);
    this.name = 'CheckpointError';
  }
}

/** A tokenizer file is malformed, or text cannot be tokenized. */
export class TokenizerError extends AigcError {
  constructor(message: string, options?: { code?: AigcErrorCode; cause?: unknown }) {
    super(message, options);
    this.name = 'TokenizerError';
  }
}

/** A model or run configuration is invalid. */
export class ConfigError extends AigcError {
  constructor(message: string, options?: { code?: AigcErrorCode; cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

/** A data set / input data file is malformed. */
export class DataError extends AigcError {
  constructor(message: string, options?: { code?: AigcErrorCode; cause?: unknown }) {
    super(message, options);
    this.name = 'DataError';
  }
}

/** Resolving or downloading a model from the Hugging Face hub failed. */
export class HubError extends AigcError {
  constructor(message: string, options?: { code?: AigcErrorCode; cause?: unknown }) {
    super(message, options);
    this.name = 'HubError';
  }
}

/** Tensor shapes do not fit together. Defaults to `'internal'`: it is usually a bug, not bad input. */
export class ShapeError extends AigcError {
  constructor(message: string, options?: { code?: AigcErrorCode; cause?: unknown }) {
    super(message, { ...options, code: options?.code ?? 'internal' });
    this.name = 'ShapeError';
  }
}

/** True when `err` is an AigcError caused by bad user input (CLI exit status 2). */
export function isBadInput(err: unknown): boolean {
  return err instanceof AigcError && err.code === 'bad_input';
}
