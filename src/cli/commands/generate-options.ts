/** The generation options shared by `aigc generate` and `aigc chat`, and their mapping to GenerationOptions. */
import { Option, type Command } from 'commander';
import type { GenerationOptions } from '../../text/generation/options.js';
import { WEIGHT_DTYPES, type WeightDtype } from '../../text/gpt2.js';
import { collect, floatOption, intOption } from '../options.js';

export interface SamplingFlags {
  model?: string;
  maxNewTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  typicalP?: number;
  repetitionPenalty?: number;
  /** commander reads `--no-repeat-ngram-size N` as a negated flag named repeatNgramSize: true when absent. */
  repeatNgramSize?: number | boolean;
  seed?: number;
  greedy?: boolean;
  sample?: boolean;
  stop?: string[];
  dtype?: WeightDtype;
  truncate?: boolean;
  special?: boolean;
}

const positive = (name: string) => floatOption(name, Number.MIN_VALUE);
/** Help text for an option whose default the model's generation_config.json may set. */
const modelDefault = (fallback: string) => `(default: the model's generation_config.json, else ${fallback})`;

/**
 * Adds the model and sampling options to a command; `prompt` adds the options about a prompt
 * given as text (--truncate, --special), which `aigc chat` has no use for: it trims the history
 * to the context window itself and reads messages as plain text.
 */
export function addSamplingOptions(cmd: Command, { prompt = false } = {}): Command {
  cmd
    .option('--model <id-or-dir>', 'hub id (gpt2, openai-community/gpt2-medium, microsoft/DialoGPT-small, ...) or local model directory (default: the bundled model)')
    .option('--max-new-tokens <n>', `tokens to generate at most, within the context window ${modelDefault('50')}`, intOption('--max-new-tokens', 1, 1_000_000))
    .option('--temperature <t>', `sampling temperature > 0 ${modelDefault('1')}`, positive('--temperature'))
    .option('--top-k <k>', `keep the k most likely tokens, 0 = off ${modelDefault('50')}`, intOption('--top-k', 0))
    .option('--top-p <p>', `nucleus sampling mass in (0, 1], 1 = off ${modelDefault('1')}`, floatOption('--top-p', Number.MIN_VALUE, 1))
    .option('--min-p <p>', `drop tokens below p x the top probability, in [0, 1] ${modelDefault('0 = off')}`, floatOption('--min-p', 0, 1))
    .option('--typical-p <p>', `typical sampling mass in (0, 1], 1 = off ${modelDefault('1')}`, floatOption('--typical-p', Number.MIN_VALUE, 1))
    .option('--repetition-penalty <x>', `penalty > 0 for tokens already present, 1 = off ${modelDefault('1')}`, positive('--repetition-penalty'))
    .addOption(new Option('--no-repeat-ngram-size <n>', `never repeat an n-gram of this size, 0 = off ${modelDefault('0')}`).argParser(intOption('--no-repeat-ngram-size', 0, 1000)))
    .option('--seed <n>', 'seed for sampling: the same seed, prompt and options give the same text (default: random)', intOption('--seed', 0, 2 ** 32 - 1))
    .addOption(new Option('--greedy', 'always pick the most likely token (no sampling)').conflicts('sample'))
    .option('--sample', `sample the next token ${modelDefault('sampling')}; with --num-beams, beam sampling`)
    .option('--stop <text>', 'stop when the output contains this text (repeatable); it is cut off', collect)
    .addOption(new Option('--dtype <type>', 'weight format: fp32 exact, bf16 or int8 faster and smaller (default fp32)').choices([...WEIGHT_DTYPES]));
  if (prompt) {
    cmd
      .option('--truncate', 'keep the last tokens of a prompt that leaves no room for --max-new-tokens (at most half the context window is kept for them) instead of failing')
      .option('--special', 'read special tokens written in the prompt (<|endoftext|>) as those tokens, not as text');
  }
  return cmd;
}

/** Library option names in messages → the flags that set them. */
const FLAG_OF: Record<string, string> = {
  maxNewTokens: '--max-new-tokens', topK: '--top-k', topP: '--top-p', minP: '--min-p', typicalP: '--typical-p',
  repetitionPenalty: '--repetition-penalty', noRepeatNgramSize: '--no-repeat-ngram-size', numBeams: '--num-beams',
  numReturnSequences: '--num-return-sequences', lengthPenalty: '--length-penalty', earlyStopping: '--early-stopping',
  doSample: '--sample',
};

const OPTION_NAME = new RegExp(`\\b(${Object.keys(FLAG_OF).join('|')})\\b`, 'g');

/** A library error message with its option names spelled as this CLI's flags. */
export function withFlagNames(message: string): string {
  return message.replace(OPTION_NAME, (n) => FLAG_OF[n]);
}

/** The GenerationOptions that the flags ask for (unset flags stay unset, so model defaults apply). */
export function generationOptionsOf(f: SamplingFlags): GenerationOptions {
  const o: GenerationOptions = {};
  if (f.maxNewTokens !== undefined) o.maxNewTokens = f.maxNewTokens;
  if (f.temperature !== undefined) o.temperature = f.temperature;
  if (f.topK !== undefined) o.topK = f.topK;
  if (f.topP !== undefined) o.topP = f.topP;
  if (f.minP !== undefined) o.minP = f.minP;
  if (f.typicalP !== undefined) o.typicalP = f.typicalP;
  if (f.repetitionPenalty !== undefined) o.repetitionPenalty = f.repetitionPenalty;
  if (typeof f.repeatNgramSize === 'number') o.noRepeatNgramSize = f.repeatNgramSize;
  if (f.seed !== undefined) o.seed = f.seed;
  if (f.greedy) o.doSample = false;
  if (f.sample) o.doSample = true;
  if (f.stop?.length) o.stop = f.stop;
  if (f.truncate) o.truncate = true;
  if (f.special) o.allowSpecial = true;
  return o;
}
