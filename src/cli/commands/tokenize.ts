/** `aigc tokenize [--model M] [--special] (TEXT | --file F)`: prints the token ids as a JSON array. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { ConfigError } from '../../errors.js';
import { resolveModel, stderrProgressBar } from '../../io/hub.js';
import { DEFAULT_MODEL_DIR } from '../../text/pipeline.js';
import { ByteLevelBPETokenizer } from '../../text/tokenizer/bpe.js';
import { readInput } from '../options.js';

export function registerTokenize(program: Command): void {
  program
    .command('tokenize')
    .description('print the token ids of a text as a JSON array')
    .argument('[text]', 'the text (or use --file)')
    .option('--model <id-or-dir>', 'whose tokenizer: hub id or local model directory (default: the bundled model)')
    .option('--file <path>', 'read the text from a file (UTF-8), or from standard input with -')
    .option('--special', 'read special tokens written in the text (<|endoftext|>) as those tokens, not as text')
    .action(async (text: string | undefined, flags: { model?: string; file?: string; special?: boolean }) => {
      if ((text === undefined) === (flags.file === undefined)) throw new ConfigError('tokenize: give either TEXT or --file FILE');
      const input = flags.file !== undefined ? await readInput(flags.file) : text!;
      let dir: string;
      if (flags.model) dir = await resolveModel(flags.model, { onProgress: stderrProgressBar() });
      else if (fs.existsSync(path.join(DEFAULT_MODEL_DIR, 'config.json'))) dir = DEFAULT_MODEL_DIR;
      else throw new ConfigError('tokenize: no --model given and there is no bundled default model; pass --model gpt2 or a model directory');
      const tok = ByteLevelBPETokenizer.fromDirectory(dir);
      process.stdout.write(JSON.stringify(tok.encode(input, { allowedSpecial: flags.special ? 'all' : [] })) + '\n');
    });
}
