/**
 * `aigc chat [--model M] [options]`: an interactive multi-turn chat on stdin/stdout with the
 * reply streamed as it is generated. DialoGPT checkpoints get their EOS-separated turns, other
 * models a plain "User: …\nAssistant:" transcript; history beyond the context window is dropped
 * oldest first. Commands: /reset forgets the conversation, /exit (or end of input) quits.
 * Ctrl-C during a reply stops that reply; at the prompt it quits with exit code 130.
 */
import * as readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import { stderrProgressBar } from '../../io/hub.js';
import type { ChatMessage } from '../../text/chat.js';
import type { GenerationOptions } from '../../text/generation/options.js';
import { textGeneration, type TextGenerator } from '../../text/pipeline.js';
import { addSamplingOptions, generationOptionsOf, type SamplingFlags } from './generate-options.js';

export interface ChatIO {
  input: Readable;
  output: Writable;
  /** Show a prompt before each line (interactive terminals). */
  interactive: boolean;
  /** Called as a reply starts: its signal stops that reply (wired to Ctrl-C by the command). */
  replySignal?: () => AbortSignal | undefined;
  /** Called when a reply has ended, however it ended. */
  replyEnded?: () => void;
  /** Ends the chat as /exit does, even while waiting for a line. */
  quit?: AbortSignal;
}

/** The chat loop; returns when the input ends or on /exit. */
export async function runChat(gen: TextGenerator, io: ChatIO, opts: GenerationOptions, system?: string): Promise<void> {
  const rl = readline.createInterface({ input: io.input, terminal: false });
  const close = () => rl.close(); // ends the line loop below
  io.quit?.addEventListener('abort', close, { once: true });
  if (io.quit?.aborted) close();
  const history: ChatMessage[] = system ? [{ role: 'system', content: system }] : [];
  const out = io.output;
  const prompt = () => { if (io.interactive) out.write('you> '); };
  if (io.interactive) out.write(`chatting with ${gen.modelDir} (${gen.chatTemplate.name} template); /reset to start over, /exit to quit\n`);
  prompt();
  for await (const raw of rl) {
    const line = raw.trim();
    if (line === '/exit' || line === '/quit') break;
    if (line === '/reset') {
      history.splice(system ? 1 : 0);
      out.write('(conversation reset)\n');
      prompt();
      continue;
    }
    if (line === '') { prompt(); continue; }
    history.push({ role: 'user', content: line });
    if (io.interactive) out.write('bot> ');
    const stream = gen.streamChat(history, { ...opts, signal: io.replySignal?.() });
    try {
      let first = true;
      for await (const chunk of stream) {
        // The template's reply usually starts with a space: do not show it.
        out.write(first ? chunk.trimStart() : chunk);
        if (chunk.trim()) first = false;
      }
      out.write('\n');
      const reply = await stream.result;
      history.push({ role: 'assistant', content: reply.text });
    } finally {
      io.replyEnded?.();
    }
    if (io.quit?.aborted) break;
    prompt();
  }
  io.quit?.removeEventListener('abort', close);
  rl.close();
}

export function registerChat(program: Command): void {
  const cmd = program
    .command('chat')
    .description('interactive multi-turn chat with a GPT-2 / DialoGPT model (/reset, /exit)')
    .option('--system <text>', 'a system message put before the conversation (plain template only)');
  addSamplingOptions(cmd).action(async (flags: SamplingFlags & { system?: string }) => {
    const gen = await textGeneration(flags.model, { dtype: flags.dtype, onProgress: stderrProgressBar() });
    const opts = generationOptionsOf(flags);
    // Ctrl-C stops the reply being generated; at the prompt it quits (exit code 130).
    let reply: AbortController | undefined;
    const quit = new AbortController();
    const onSigint = () => {
      if (reply) reply.abort();
      else quit.abort();
    };
    process.on('SIGINT', onSigint);
    try {
      await runChat(gen, {
        input: process.stdin,
        output: process.stdout,
        interactive: Boolean(process.stdin.isTTY),
        replySignal: () => (reply = new AbortController()).signal,
        replyEnded: () => { reply = undefined; },
        quit: quit.signal,
      }, opts, flags.system);
    } finally {
      process.removeListener('SIGINT', onSigint);
      process.stdin.destroy(); // a terminal's stdin would keep the process waiting
    }
    if (quit.signal.aborted) {
      if (process.stdin.isTTY) process.stdout.write('\n');
      process.exitCode = 130;
    }
  });
}
