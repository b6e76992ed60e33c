/**
 * `aigc generate [options] PROMPT`: streams the continuation of PROMPT (`-`: standard input) to
 * stdout, or with --json prints one object {text, tokens, prompt_tokens, completion_tokens,
 * finish_reason, timings}. Notices (a truncated prompt, a token budget the context window cuts
 * short) go to stderr. Ctrl-C stops generation: what was generated is printed and the exit
 * code is 130.
 */
import { Option, type Command } from 'commander';
import { ConfigError } from '../../errors.js';
import { stderrProgressBar } from '../../io/hub.js';
import { fitPrompts } from '../../text/generation/generate.js';
import { resolveGenerationOptions, type GenerationOptions } from '../../text/generation/options.js';
import { textGeneration, type TextGenerationOutput, type TextGenerator } from '../../text/pipeline.js';
import { floatOption, intOption, readInput } from '../options.js';
import { addSamplingOptions, generationOptionsOf, withFlagNames, type SamplingFlags } from './generate-options.js';

interface GenerateFlags extends SamplingFlags {
  numBeams?: number;
  numReturnSequences?: number;
  lengthPenalty?: number;
  earlyStopping?: 'true' | 'false' | 'never';
  json?: boolean;
}

/** Tells on stderr what the context window does to this prompt and token budget. */
function contextNotices(gen: TextGenerator, prompt: string, opts: GenerationOptions): void {
  const ids = gen.encode(prompt, opts.allowSpecial);
  const { maxNewTokens, numBeams } = resolveGenerationOptions(opts, gen.generationDefaults);
  const n = gen.contextWindow;
  const kept = fitPrompts([ids], n, maxNewTokens, opts.truncate ?? false)[0].length;
  if (kept < ids.length) process.stderr.write(`aigc: the prompt is ${ids.length} tokens; kept its last ${kept} (--truncate) to fit the ${n}-token context window\n`);
  // Sampling's last new token needs no position of its own; beam search keeps every token's.
  const room = numBeams > 1 ? n - kept : n - kept + 1;
  if (maxNewTokens > room) process.stderr.write(`aigc: the ${n}-token context window leaves room for ${room} new tokens, not ${maxNewTokens}\n`);
}

/** Runs fn with SIGINT turned into an abort; returns whether it fired. A second Ctrl-C kills as usual. */
export async function withCtrlC<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<{ value: T; interrupted: boolean }> {
  const ac = new AbortController();
  const onSigint = () => { ac.abort(); process.removeListener('SIGINT', onSigint); };
  process.on('SIGINT', onSigint);
  try {
    return { value: await fn(ac.signal), interrupted: ac.signal.aborted };
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

function jsonOf(out: TextGenerationOutput): Record<string, unknown> {
  const j: Record<string, unknown> = {
    text: out.text,
    tokens: out.tokens,
    prompt_tokens: out.promptTokens,
    completion_tokens: out.completionTokens,
    finish_reason: out.finishReason,
    timings: { prefill_ms: round(out.timings.prefillMs), decode_tokens_per_s: round(out.timings.decodeTokensPerS) },
  };
  if (out.sequences.length > 1) {
    j.sequences = out.sequences.map((s) => ({ text: s.text, tokens: s.tokens, finish_reason: s.finishReason, ...(s.score !== undefined ? { score: s.score } : {}) }));
  }
  return j;
}

const round = (x: number) => Math.round(x * 100) / 100;

export function registerGenerate(program: Command): void {
  const cmd = program
    .command('generate')
    .description('continue a prompt with a GPT-2 model, streaming the text to stdout')
    .argument('<prompt>', 'the text to continue, or - to read it from standard input (its final newline dropped)');
  addSamplingOptions(cmd, { prompt: true })
    .option('--num-beams <n>', 'beam search with n beams, deterministic unless --sample is given (default 1: no beam search)', intOption('--num-beams', 1, 64))
    .option('--length-penalty <x>', 'beam search: scores are divided by length^x; > 0 favours longer outputs (default 1)', floatOption('--length-penalty'))
    .addOption(new Option('--early-stopping <when>', 'beam search: stop when num-beams outputs are done (true), by a heuristic (false), or only when none can improve (never) (default false)').choices(['true', 'false', 'never']))
    .option('--num-return-sequences <n>', 'outputs to produce (samples, or best beams; default 1)', intOption('--num-return-sequences', 1, 64))
    .addOption(new Option('--json', 'print one JSON object: text, tokens, prompt_tokens, completion_tokens, finish_reason, timings'))
    .action(async (promptArg: string, flags: GenerateFlags) => {
      const prompt = promptArg === '-' ? (await readInput('-')).replace(/\r?\n$/, '') : promptArg; // as $(cat): no final newline
      const gen = await textGeneration(flags.model, { dtype: flags.dtype, onProgress: stderrProgressBar() });
      const opts = generationOptionsOf(flags);
      if (flags.numBeams !== undefined) {
        opts.numBeams = flags.numBeams;
        // Beam search is deterministic unless asked otherwise, whatever generation_config.json says.
        if (flags.numBeams > 1 && !flags.sample) opts.doSample = false;
      }
      if (flags.lengthPenalty !== undefined) opts.lengthPenalty = flags.lengthPenalty;
      if (flags.earlyStopping !== undefined) opts.earlyStopping = flags.earlyStopping === 'never' ? 'never' : flags.earlyStopping === 'true';
      if (flags.numReturnSequences !== undefined) opts.numReturnSequences = flags.numReturnSequences;
      try {
        contextNotices(gen, prompt, opts);
      } catch (e) {
        if (e instanceof ConfigError) throw new ConfigError(withFlagNames(e.message));
        throw e;
      }
      const out = process.stdout;
      const { value: result, interrupted } = await withCtrlC(async (signal) => {
        if (flags.json) return gen(prompt, { ...opts, signal });
        if ((opts.numReturnSequences ?? 1) > 1) {
          const r = await gen(prompt, { ...opts, signal });
          r.sequences.forEach((s, i) => out.write(`${i ? '\n' : ''}--- ${i + 1} ---\n${s.text}\n`));
          return r;
        }
        const stream = gen.stream(prompt, { ...opts, signal });
        for await (const chunk of stream) out.write(chunk);
        out.write('\n');
        return stream.result;
      });
      if (flags.json) out.write(JSON.stringify(jsonOf(result)) + '\n');
      if (interrupted) process.exitCode = 130;
    });
}
