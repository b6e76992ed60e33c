/**
 * Generation options: every knob, its default, and the checks that turn bad values into a
 * ConfigError naming the option. Names are camelCase versions of Hugging Face's
 * GenerationConfig fields, with the same meaning; the model's generation_config.json supplies
 * defaults for the ones it sets, then the caller's options win.
 */
import { ConfigError } from '../../errors.js';
import type { GenerationDefaults } from '../checkpoint.js';

export interface GenerationOptions {
  /** Tokens to generate at most (the prompt does not count). Default: generation_config.json's `max_new_tokens`, else 50. */
  maxNewTokens?: number;
  /** Sample (true) or pick the most likely token (false: greedy, or beam search with numBeams > 1); true with numBeams > 1 is beam sampling. Default true, false when numBeams > 1 (generation_config.json may say otherwise). */
  doSample?: boolean;
  /** Divide the logits by this before sampling; < 1 sharpens, > 1 flattens. Must be > 0. Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens (ties at the k-th value are kept); 0 turns it off. Default 50. */
  topK?: number;
  /** Nucleus sampling: keep the most likely tokens whose probabilities add up to topP; 1 turns it off. Default 1. */
  topP?: number;
  /** Drop tokens less likely than minP × the probability of the most likely token; 0 turns it off. Default 0. */
  minP?: number;
  /** Typical sampling (locally typical set of mass typicalP); 1 turns it off. Default 1. */
  typicalP?: number;
  /** Penalise tokens already in the prompt or the output (Hugging Face semantics: positive logits divided by it, negative multiplied); 1 turns it off. Default 1. */
  repetitionPenalty?: number;
  /** Never repeat an n-gram of this size (prompt included); 0 turns it off. Default 0. */
  noRepeatNgramSize?: number;
  /** Beam search with this many beams (deterministic unless doSample is true: beam sampling). Default 1. */
  numBeams?: number;
  /** Beam search: scores are divided by length^lengthPenalty; > 0 favours longer outputs. Default 1. */
  lengthPenalty?: number;
  /** Beam search: stop when numBeams hypotheses are done (true), by a heuristic (false), or only when no better one is possible ('never'). Default false. */
  earlyStopping?: boolean | 'never';
  /** Outputs per prompt (independent samples, or the best beams). Default 1. */
  numReturnSequences?: number;
  /** Token id(s) that end generation; null: never stop on a token. Default: the model's EOS. */
  eosTokenId?: number | number[] | null;
  /** Strings that end generation; the output is cut before the stop string. Default none. */
  stop?: string[];
  /** Seed of the sampler: the same seed, prompt and options give the same output. Default: a random seed. */
  seed?: number;
  /** Cancels generation: the call returns what was generated so far with finishReason 'abort'. */
  signal?: AbortSignal;
  /** A prompt that leaves no room in the context window for maxNewTokens (at most half the window) keeps its last tokens instead of failing. Default false. */
  truncate?: boolean;
  /** Read special tokens written in a prompt (`<|endoftext|>`) as those tokens. Default false: the text is encoded as written. Chat messages are always plain text. */
  allowSpecial?: boolean;
}

/** Options with every default filled in. */
export interface ResolvedGenerationOptions {
  maxNewTokens: number;
  doSample: boolean;
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  typicalP: number;
  repetitionPenalty: number;
  noRepeatNgramSize: number;
  numBeams: number;
  lengthPenalty: number;
  earlyStopping: boolean | 'never';
  numReturnSequences: number;
  eosTokenIds: number[];
  stop: string[];
  seed: number;
  signal: AbortSignal | undefined;
  truncate: boolean;
}

export const DEFAULT_MAX_NEW_TOKENS = 50;

function check(name: string, v: number, ok: boolean, what: string): void {
  if (typeof v !== 'number' || Number.isNaN(v) || !ok) throw new ConfigError(`${name} must be ${what}, got ${String(v)}`);
}

const isInt = (v: number) => Number.isInteger(v);

/** Fills defaults (generation_config.json first, then aigc's) and validates every option. */
export function resolveGenerationOptions(
  opts: GenerationOptions, defaults: GenerationDefaults = {}, modelEos: number | null = null,
): ResolvedGenerationOptions {
  const d = defaults;
  const eosRaw = opts.eosTokenId !== undefined ? opts.eosTokenId : (d.eos_token_id ?? modelEos);
  const r: ResolvedGenerationOptions = {
    maxNewTokens: opts.maxNewTokens ?? d.max_new_tokens ?? DEFAULT_MAX_NEW_TOKENS,
    doSample: false, // below: its default depends on numBeams
    temperature: opts.temperature ?? d.temperature ?? 1,
    topK: opts.topK ?? d.top_k ?? 50,
    topP: opts.topP ?? d.top_p ?? 1,
    minP: opts.minP ?? d.min_p ?? 0,
    typicalP: opts.typicalP ?? d.typical_p ?? 1,
    repetitionPenalty: opts.repetitionPenalty ?? d.repetition_penalty ?? 1,
    noRepeatNgramSize: opts.noRepeatNgramSize ?? d.no_repeat_ngram_size ?? 0,
    numBeams: opts.numBeams ?? d.num_beams ?? 1,
    lengthPenalty: opts.lengthPenalty ?? d.length_penalty ?? 1,
    earlyStopping: opts.earlyStopping ?? d.early_stopping ?? false,
    numReturnSequences: opts.numReturnSequences ?? d.num_return_sequences ?? 1,
    eosTokenIds: eosRaw === null || eosRaw === undefined ? [] : Array.isArray(eosRaw) ? [...eosRaw] : [eosRaw],
    stop: [...(opts.stop ?? [])],
    seed: opts.seed ?? Math.floor(Math.random() * 2 ** 32),
    signal: opts.signal,
    truncate: opts.truncate ?? false,
  };
  r.doSample = opts.doSample ?? d.do_sample ?? r.numBeams === 1; // beam search by default, as Hugging Face
  // A bad value names where it came from: the caller's option or the model's generation_config.json.
  const from = (key: keyof GenerationOptions, field: keyof GenerationDefaults) =>
    opts[key] === undefined && d[field] !== undefined ? `generation_config.json's ${String(field)}` : key;
  check(from('maxNewTokens', 'max_new_tokens'), r.maxNewTokens, isInt(r.maxNewTokens) && r.maxNewTokens >= 1, 'an integer >= 1');
  check(from('temperature', 'temperature'), r.temperature, r.temperature > 0 && Number.isFinite(r.temperature), 'a number > 0');
  check(from('topK', 'top_k'), r.topK, isInt(r.topK) && r.topK >= 0, 'an integer >= 0');
  check(from('topP', 'top_p'), r.topP, r.topP > 0 && r.topP <= 1, 'in (0, 1]');
  check(from('minP', 'min_p'), r.minP, r.minP >= 0 && r.minP <= 1, 'in [0, 1]');
  check(from('typicalP', 'typical_p'), r.typicalP, r.typicalP > 0 && r.typicalP <= 1, 'in (0, 1]');
  check(from('repetitionPenalty', 'repetition_penalty'), r.repetitionPenalty, r.repetitionPenalty > 0 && Number.isFinite(r.repetitionPenalty), 'a number > 0');
  check(from('noRepeatNgramSize', 'no_repeat_ngram_size'), r.noRepeatNgramSize, isInt(r.noRepeatNgramSize) && r.noRepeatNgramSize >= 0, 'an integer >= 0');
  check(from('numBeams', 'num_beams'), r.numBeams, isInt(r.numBeams) && r.numBeams >= 1, 'an integer >= 1');
  check(from('lengthPenalty', 'length_penalty'), r.lengthPenalty, Number.isFinite(r.lengthPenalty), 'a finite number');
  check(from('numReturnSequences', 'num_return_sequences'), r.numReturnSequences, isInt(r.numReturnSequences) && r.numReturnSequences >= 1, 'an integer >= 1');
  check('seed', r.seed, isInt(r.seed) && r.seed >= 0, 'a non-negative integer');
  if (r.numBeams > 1 && r.numReturnSequences > r.numBeams) {
    throw new ConfigError(`numReturnSequences (${r.numReturnSequences}) cannot exceed numBeams (${r.numBeams}) in beam search`);
  }
  if (r.numBeams === 1 && !r.doSample && r.numReturnSequences > 1) {
    throw new ConfigError(`greedy decoding gives one output per prompt; numReturnSequences ${r.numReturnSequences} needs sampling or beam search`);
  }
  for (const e of r.eosTokenIds) check('eosTokenId', e, isInt(e) && e >= 0, 'a token id');
  for (const s of r.stop) if (typeof s !== 'string' || s.length === 0) throw new ConfigError('stop strings must be non-empty strings');
  return r;
}
