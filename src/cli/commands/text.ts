/**
 * `aigc text train | eval | tokenizer train`: pretraining, fine-tuning (full or LoRA) and
 * evaluation of GPT-2 models on the user's text. Progress goes to stderr; `--json` prints one
 * JSON object per line on stdout (steps, evaluations, samples, checkpoints, the summary).
 */
import type { Command } from 'commander';
import { collect, floatOption, intOption } from '../options.js';
import { LORA_TARGETS } from '../../text/lora.js';
import { PRESETS, runTextEval, runTextTrain, runTokenizerTrain } from '../../text/train/run.js';
import { ConfigError } from '../../errors.js';

interface TrainFlags {
  out: string;
  model?: string;
  resume?: boolean;
  preset?: string;
  layers?: number;
  heads?: number;
  width?: number;
  context?: number;
  tokenizer?: string;
  vocabSize?: number;
  steps?: number;
  batchSize?: number;
  blockSize?: number;
  gradAccum?: number;
  lr?: number;
  minLr?: number;
  warmup?: number;
  weightDecay?: number;
  gradClip?: number;
  dropout?: number;
  seed?: number;
  evalEvery?: number;
  evalBatches?: number;
  sampleEvery?: number;
  samplePrompt?: string;
  sampleTokens?: number;
  checkpointEvery?: number;
  valData?: string[];
  valFraction?: number;
  loraRank?: number;
  loraAlpha?: number;
  loraTargets?: string;
  merge?: boolean;
  cacheDir?: string;
  offline?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export function registerText(program: Command): void {
  const text = program.command('text').description('train, fine-tune and evaluate GPT-2 models on your own text');

  text
    .command('train')
    .description('train a GPT from scratch or fine-tune one (--model); data: text files/folders, or JSONL {"prompt","completion"} / {"messages":[...]}')
    .argument('[data...]', 'training data files or folders')
    .requiredOption('-o, --out <dir>', 'output directory: the model (Hugging Face layout), checkpoints, loss.svg')
    .option('-m, --model <id-or-dir>', 'fine-tune this model (hub id or directory); default: train from scratch')
    .option('--resume', 'continue the newest checkpoint in --out (same settings; --steps may extend the run)')
    .option('--preset <name>', `model size from scratch: ${Object.entries(PRESETS).map(([k, v]) => `${k} (${v.layers}x${v.width}, ${v.heads} heads, context ${v.context})`).join(', ')}; default small`)
    .option('--layers <n>', 'transformer blocks', intOption('--layers', 1, 96))
    .option('--heads <n>', 'attention heads', intOption('--heads', 1, 128))
    .option('--width <n>', 'embedding width (n_embd)', intOption('--width', 8, 8192))
    .option('--context <n>', 'context window (n_positions)', intOption('--context', 2, 8192))
    .option('--tokenizer <gpt2|dir>', 'tokenizer for a model trained from scratch: gpt2 (default) or a directory')
    .option('--vocab-size <n>', 'from scratch: train a new byte-level BPE of this size on the data', intOption('--vocab-size', 257, 1 << 20))
    .option('--steps <n>', 'optimizer steps (default 1000)', intOption('--steps', 1))
    .option('-b, --batch-size <n>', 'rows per micro-batch (default 8)', intOption('--batch-size', 1))
    .option('--block-size <n>', 'tokens per row (default 128, at most the context)', intOption('--block-size', 2))
    .option('--grad-accum <n>', 'micro-batches per step (default 1)', intOption('--grad-accum', 1))
    .option('--lr <x>', 'peak learning rate (default 1e-3 from scratch / LoRA, 1e-4 fine-tuning)', floatOption('--lr', 0))
    .option('--min-lr <x>', 'final learning rate of the cosine schedule', floatOption('--min-lr', 0))
    .option('--warmup <n>', 'linear warmup steps', intOption('--warmup', 0))
    .option('--weight-decay <x>', 'AdamW weight decay on matrices (default 0.1)', floatOption('--weight-decay', 0))
    .option('--grad-clip <x>', 'max global gradient norm, 0 = off (default 1.0)', floatOption('--grad-clip', 0))
    .option('--dropout <p>', 'dropout on embeddings, attention probabilities and residual branches, as GPT-2 (default 0)', floatOption('--dropout', 0, 0.99))
    .option('--seed <n>', 'seed of initialisation, data order and dropout (default 1337)', intOption('--seed', 0))
    .option('--eval-every <n>', 'validation loss and perplexity every N steps, 0 = off (default 100)', intOption('--eval-every', 0))
    .option('--eval-batches <n>', 'validation batches per evaluation (default 20)', intOption('--eval-batches', 1))
    .option('--sample-every <n>', 'print sample text every N steps, 0 = off', intOption('--sample-every', 0))
    .option('--sample-prompt <text>', 'prompt of the samples (default: empty)')
    .option('--sample-tokens <n>', 'tokens per sample (default 48)', intOption('--sample-tokens', 1))
    .option('--checkpoint-every <n>', 'checkpoint every N steps (default 100); also at the end and on Ctrl-C', intOption('--checkpoint-every', 0))
    .option('--val-data <path>', 'validation file or folder (repeatable); default: hold out --val-fraction', collect)
    .option('--val-fraction <x>', 'fraction of the data held out for validation (default 0.05)', floatOption('--val-fraction', 0, 0.5))
    .option('--lora-rank <r>', 'LoRA fine-tuning with this rank (needs --model)', intOption('--lora-rank', 1, 4096))
    .option('--lora-alpha <x>', 'LoRA alpha (default 2 x rank)', floatOption('--lora-alpha', 0))
    .option('--lora-targets <list>', `comma-separated modules: ${LORA_TARGETS.join(', ')} (default c_attn)`)
    .option('--merge', 'LoRA: also write the adapter merged into the base weights to --out')
    .option('--cache-dir <dir>', 'where tokenized data is cached (default ~/.cache/aigc/tokens)')
    .option('--offline', 'do not download models')
    .option('--json', 'JSON lines on stdout: {"type":"step"|"eval"|"sample"|"checkpoint"|"done", ...}')
    .option('-q, --quiet', 'no progress on stderr')
    .action(async (data: string[], f: TrainFlags) => {
      if (!f.resume && data.length === 0) throw new ConfigError('aigc text train: give training data files or folders (or --resume)');
      const lora = f.loraRank !== undefined
        ? { rank: f.loraRank, alpha: f.loraAlpha ?? 2 * f.loraRank, targets: (f.loraTargets ?? 'c_attn').split(',').map((s) => s.trim()).filter(Boolean) }
        : null;
      if (!lora && (f.loraAlpha !== undefined || f.loraTargets !== undefined || f.merge)) throw new ConfigError('--lora-alpha, --lora-targets and --merge need --lora-rank');
      const res = await runTextTrain({
        data, out: f.out, model: f.model, resume: f.resume, preset: f.preset,
        shape: { layers: f.layers, heads: f.heads, width: f.width, context: f.context },
        tokenizer: f.tokenizer, vocabSize: f.vocabSize, valData: f.valData, valFraction: f.valFraction,
        settings: {
          steps: f.steps, batchSize: f.batchSize, blockSize: f.blockSize, gradAccum: f.gradAccum, lr: f.lr, minLr: f.minLr,
          warmupSteps: f.warmup, weightDecay: f.weightDecay, gradClip: f.gradClip, dropout: f.dropout, seed: f.seed,
          evalEvery: f.evalEvery, evalBatches: f.evalBatches, sampleEvery: f.sampleEvery, samplePrompt: f.samplePrompt,
          sampleTokens: f.sampleTokens, checkpointEvery: f.checkpointEvery,
        },
        lora, merge: f.merge, cacheDir: f.cacheDir, offline: f.offline, progress: !f.quiet,
        log: f.quiet ? () => undefined : (m) => process.stderr.write(m + '\n'),
        onRecord: f.json ? (r) => process.stdout.write(JSON.stringify(r) + '\n') : undefined,
      });
      if (!f.json) {
        process.stdout.write(`${res.interrupted ? 'interrupted' : 'trained'}: ${res.steps} steps in ${(res.seconds / 60).toFixed(1)} min, train loss ${res.trainLoss.toFixed(4)}` +
          (res.valLoss !== null ? `, validation loss ${res.valLoss.toFixed(4)} (perplexity ${res.valPerplexity!.toFixed(2)})` : '') + ` → ${res.out}\n`);
      }
      if (res.interrupted) process.exitCode = 130;
    });

  text
    .command('eval')
    .description('perplexity of a model on held-out text')
    .requiredOption('-m, --model <id-or-dir>', 'model (hub id or directory)')
    .requiredOption('-d, --data <path>', 'text/JSONL file or folder (repeatable)', collect)
    .option('--block-size <n>', 'tokens per window (default: the context, at most 1024)', intOption('--block-size', 2))
    .option('-b, --batch-size <n>', 'windows per batch (default 4)', intOption('--batch-size', 1))
    .option('--offline', 'do not download models')
    .option('--json', 'print one JSON object')
    .action(async (f: { model: string; data: string[]; blockSize?: number; batchSize?: number; offline?: boolean; json?: boolean }) => {
      const r = await runTextEval({ model: f.model, data: f.data, blockSize: f.blockSize, batchSize: f.batchSize, offline: f.offline });
      if (f.json) process.stdout.write(JSON.stringify(r) + '\n');
      else process.stdout.write(`loss ${r.loss.toFixed(4)}  perplexity ${r.perplexity.toFixed(2)}  (${r.tokens} tokens, windows of ${r.blockSize})\n`);
    });

  const tk = text.command('tokenizer').description('tokenizers');
  tk.command('train')
    .description('train a byte-level BPE tokenizer (GPT-2 style) on text and save it in the Hugging Face format')
    .argument('<data...>', 'text/JSONL files or folders')
    .requiredOption('--vocab-size <n>', 'vocabulary size (256 bytes + merges + <|endoftext|>)', intOption('--vocab-size', 257, 1 << 20))
    .requiredOption('-o, --out <dir>', 'output directory (vocab.json, merges.txt, tokenizer.json, tokenizer_config.json)')
    .option('--json', 'print one JSON object')
    .action((data: string[], f: { vocabSize: number; out: string; json?: boolean }) => {
      const r = runTokenizerTrain({ data, vocabSize: f.vocabSize, out: f.out, log: f.json ? undefined : (m) => process.stderr.write(m + '\n') });
      if (f.json) process.stdout.write(JSON.stringify(r) + '\n');
      else process.stdout.write(`${r.vocabSize} tokens → ${r.out}\n`);
    });
}
