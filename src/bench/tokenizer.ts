/**
 * `aigc bench tokenizer`: GPT-2 BPE encode throughput of aigc's tokenizer and of js-tiktoken's
 * `gpt2` encoding on the same ~1 MB of mixed text (prose, code, many scripts, emoji, random
 * strings). `aigc encode` starts each timed call with an empty pre-token cache (a fair
 * comparison with js-tiktoken, which has none); `aigc encode (warm cache)` keeps it.
 */
import type { BenchRecord } from './record.js';
import { timeMedian } from './record.js';
import { loadGpt2FromPackage } from '../text/tokenizer/gpt2.js';
import { mixedText } from '../text/tokenizer/corpus.js';

export interface TokenizerBenchOptions {
  quick?: boolean;
  /** Size of the text in bytes (default 1 MiB). */
  bytes?: number;
}

function record(kase: string, ms: number, tokens: number, bytes: number): BenchRecord {
  return {
    bench: 'tokenizer',
    case: kase,
    ms: Number(ms.toFixed(3)),
    threads: 1,
    backend: 'ts',
    tokens_per_s: Math.round(tokens / (ms / 1000)),
    mb_per_s: Number((bytes / 1e6 / (ms / 1000)).toFixed(3)),
  };
}

export async function* benchTokenizer(opts: TokenizerBenchOptions = {}): AsyncGenerator<BenchRecord> {
  const quick = opts.quick ?? false;
  const text = mixedText(opts.bytes ?? (quick ? 1 << 18 : 1 << 20), 1);
  const bytes = Buffer.byteLength(text, 'utf8');
  const tok = loadGpt2FromPackage();
  const reps = quick ? 1 : 5;
  const warmup = quick ? 1 : 2;

  const ids = tok.encode(text);
  const cold = timeMedian(() => { tok.clearCache(); tok.encode(text); }, 1, reps, warmup);
  yield record('aigc encode', cold, ids.length, bytes);
  const warm = timeMedian(() => { tok.encode(text); }, 1, reps, warmup);
  yield record('aigc encode (warm cache)', warm, ids.length, bytes);

  let tiktoken: typeof import('js-tiktoken') | undefined;
  try {
    tiktoken = await import('js-tiktoken');
  } catch {
    process.stderr.write('bench tokenizer: js-tiktoken is not installed (a devDependency); skipping the js-tiktoken case\n');
    return;
  }
  const enc = tiktoken.getEncoding('gpt2');
  const ref = enc.encode(text, [], []);
  if (ref.length !== ids.length || ref.some((x, i) => x !== ids[i])) {
    process.stderr.write('bench tokenizer: WARNING: aigc and js-tiktoken ids differ on the bench text\n');
  }
  const tk = timeMedian(() => { enc.encode(text, [], []); }, 1, quick ? 1 : 3, 1);
  yield record('js-tiktoken encode', tk, ref.length, bytes);
}
