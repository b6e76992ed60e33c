/**
 * `aigc generate [options] PROMPT`: streams the continuation of PROMPT to stdout, or with
 * --json prints one object {text, tokens, prompt_tokens, completion_tokens, finish_reason,
 * timings}. Ctrl-C stops generation: what was generated is printed and the exit code is 130.
 */
import { Option, type Command } from 'commander';
import { stderrProgressBar } from '../../io/hub.js';
import { textGeneration, type TextGenerationOutput } from '../../text/pipeline.js';
import { intOption } from '../options.js';
import { addSamplingOptions, generationOptionsOf, type SamplingFlags } from './generate-options.js';

interface GenerateFlags extends SamplingFlags {
  numBeams?: number;
  numReturnSequences?: number;
  json?: boolean;
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
    .argument('<prompt>', 'the text to continue');
  addSamplingOptions(cmd)
    .option('--num-beams <n>', 'beam search with n beams (deterministic unless --sample; default 1 = sampling/greedy)', intOption('--num-beams', 1, 64))
    .option('--num-return-sequences <n>', 'outputs to produce (samples, or best beams; default 1)', intOption('--num-return-sequences', 1, 64))
    .addOption(new Option('--json', 'print one JSON object: text, tokens, prompt_tokens, completion_tokens, finish_reason, timings'))
    .action(async (prompt: string, flags: GenerateFlags) => {
      const gen = await textGeneration(flags.model, { dtype: flags.dtype, onProgress: stderrProgressBar() });
      const opts = generationOptionsOf(flags);
      if (flags.numBeams !== undefined) opts.numBeams = flags.numBeams;
      if (flags.numReturnSequences !== undefined) opts.numReturnSequences = flags.numReturnSequences;
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
