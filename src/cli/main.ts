/**
 * The `aigc` command line. Each command lives in `commands/` and registers itself on the
 * program; this file only wires them up and turns errors into exit codes: 2 for bad input
 * (the message, no stack trace), 1 for internal failures.
 */
import { Command, CommanderError } from 'commander';
import { AigcError, isBadInput } from '../errors.js';
import { VERSION } from '../version.js';
import { registerBench } from './commands/bench.js';
import { registerImage } from './commands/image.js';
import { registerServe } from './commands/serve.js';
import { registerChat } from './commands/chat.js';
import { registerGenerate } from './commands/generate.js';
import { registerTokenize } from './commands/tokenize.js';
import { registerText } from './commands/text.js';

/** Every command module: a function that adds its command(s) to the program. */
const commands: ((program: Command) => void)[] = [registerBench, registerGenerate, registerChat, registerTokenize, registerServe, registerImage, registerText];

export function buildProgram(): Command {
  const program = new Command('aigc')
    .description('Generative AI on your own CPU: GPT-2 text generation and DCGAN image generation')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    // Option errors read like every other error of the CLI: "aigc: ...".
    .configureOutput({ outputError: (str, write) => write(str.replace(/^error: /, 'aigc: ')) })
    .exitOverride();
  for (const register of commands) register(program);
  return program;
}

/** A reader that goes away (`aigc generate ... | head`) ends the command quietly, as for other Unix tools. */
let stdoutGuarded = false;
function quietOnClosedStdout(): void {
  if (stdoutGuarded) return;
  stdoutGuarded = true;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    process.stderr.write(`aigc: cannot write to standard output: ${e.message}\n`);
    process.exit(1);
  });
}

export async function main(argv: string[]): Promise<number> {
  quietOnClosedStdout();
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (isBadInput(err)) {
      process.stderr.write(`aigc: ${(err as Error).message}\n`);
      return 2;
    }
    if (err instanceof AigcError) {
      process.stderr.write(`aigc: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`aigc: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}
