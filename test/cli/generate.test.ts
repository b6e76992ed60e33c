/**
 * `aigc generate`, `aigc tokenize` and `aigc chat` on the tiny GPT-2 fixture, in-process through
 * main(argv) with stdout/stderr captured; plus the built bin/aigc.js when dist/ exists. Also the
 * library pipeline's text-level behaviour (stop strings, streaming, EOS, chat).
 */
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';
import { runChat } from '../../src/cli/commands/chat.js';
import { textGeneration, type TextGenerationOutput, type TextGenerator } from '../../src/text/pipeline.js';
import { dialoGptTemplate, isDialoGpt, plainTemplate } from '../../src/text/chat.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURE = path.join(REPO, 'test/fixtures/gpt2-tiny');

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => { out += String(s); return true; });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => { err += String(s); return true; });
  try {
    const code = await main(args);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
    process.exitCode = undefined;
  }
}

let gen: TextGenerator;
beforeAll(async () => {
  gen = await textGeneration(FIXTURE);
});
afterEach(() => { process.exitCode = undefined; });

describe('aigc generate', () => {
  test('--json: the fields, greedy tokens as the library gives them', async () => {
    const r = await run(['generate', '--model', FIXTURE, '--greedy', '--max-new-tokens', '8', '--json', 'The capital of France']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(Object.keys(j).sort()).toEqual(['completion_tokens', 'finish_reason', 'prompt_tokens', 'text', 'timings', 'tokens']);
    const lib = await gen('The capital of France', { doSample: false, maxNewTokens: 8 });
    expect(j.tokens).toEqual(lib.tokens);
    expect(j.text).toBe(lib.text);
    expect(j.prompt_tokens).toBe(gen.encode('The capital of France').length);
    expect(j.completion_tokens).toBe(j.tokens.length);
    expect(['length', 'eos']).toContain(j.finish_reason);
    expect(j.timings.prefill_ms).toBeGreaterThan(0);
    expect(typeof j.timings.decode_tokens_per_s).toBe('number');
  });

  test('streams the continuation to stdout; a seed makes sampling reproducible', async () => {
    const args = ['generate', '--model', FIXTURE, '--seed', '7', '--temperature', '0.9', '--top-k', '20', '--max-new-tokens', '12', 'Hello world'];
    const a = await run(args);
    const b = await run(args);
    expect(a.code).toBe(0);
    expect(a.out).toBe(b.out);
    const lib = await gen('Hello world', { seed: 7, temperature: 0.9, topK: 20, maxNewTokens: 12 });
    expect(a.out).toBe(lib.text + '\n');
  });

  test('--stop cuts the output before the stop string', async () => {
    const full = await gen('The quick brown', { doSample: false, maxNewTokens: 16, eosTokenId: null });
    const stop = full.text.slice(Math.floor(full.text.length / 2), Math.floor(full.text.length / 2) + 2);
    const cutAt = full.text.indexOf(stop);
    const r = await run(['generate', '--model', FIXTURE, '--greedy', '--max-new-tokens', '16', '--stop', stop, '--json', 'The quick brown']);
    const j = JSON.parse(r.out);
    expect(j.text).toBe(full.text.slice(0, cutAt));
    expect(j.finish_reason).toBe('stop');
  });

  test('beam search and several return sequences', async () => {
    const r = await run(['generate', '--model', FIXTURE, '--num-beams', '3', '--num-return-sequences', '2', '--max-new-tokens', '5', '--json', 'Hello']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.sequences).toHaveLength(2);
    expect(j.sequences[0].score).toBeGreaterThanOrEqual(j.sequences[1].score);
    const sampled = ['generate', '--model', FIXTURE, '--num-beams', '3', '--sample', '--seed', '5', '--max-new-tokens', '5', '--json', 'Hello'];
    const [a, b] = [await run(sampled), await run(sampled)];
    expect(a.code).toBe(0);
    expect(JSON.parse(a.out).tokens).toEqual(JSON.parse(b.out).tokens); // beam sampling, seeded
  });

  test('--num-beams is deterministic without --sample, even when generation_config.json samples', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aigc-beams-'));
    try {
      for (const f of fs.readdirSync(FIXTURE)) fs.copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
      fs.writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: 316, do_sample: true, temperature: 1.5 }));
      const args = ['generate', '--model', dir, '--num-beams', '3', '--max-new-tokens', '8', '--json', 'Hello'];
      const outs = [JSON.parse((await run(args)).out).tokens, JSON.parse((await run(args)).out).tokens];
      const beams = await gen('Hello', { numBeams: 3, doSample: false, maxNewTokens: 8 });
      expect(outs[0]).toEqual(beams.tokens);
      expect(outs[1]).toEqual(beams.tokens);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--length-penalty and --early-stopping reach beam search', async () => {
    const args = (lp: string) => ['generate', '--model', FIXTURE, '--num-beams', '4', '--num-return-sequences', '4', '--length-penalty', lp, '--early-stopping', 'never', '--max-new-tokens', '10', '--json', 'Hello'];
    for (const lp of ['-2', '2']) {
      const r = await run(args(lp));
      expect(r.code, r.err).toBe(0);
      const lib = await gen('Hello', { numBeams: 4, numReturnSequences: 4, lengthPenalty: Number(lp), earlyStopping: 'never', doSample: false, maxNewTokens: 10 });
      expect(JSON.parse(r.out).sequences.map((q: { tokens: number[] }) => q.tokens)).toEqual(lib.sequences.map((q) => q.tokens));
    }
    expect((await run(['generate', '--model', FIXTURE, '--early-stopping', 'maybe', 'hi'])).code).toBe(2);
  });

  test('bad input exits 2 with a clear message', async () => {
    const long = 'hello there '.repeat(40);
    const cases: [string[], RegExp][] = [
      [['generate', '--model', FIXTURE, long], /context window is 64 tokens.*--truncate/],
      [['generate', '--model', path.join(FIXTURE, 'nope'), 'hi'], /does not exist/],
      [['generate', '--model', FIXTURE, '--top-p', '1.5', 'hi'], /--top-p must be > 0 and <= 1, got 1.5/],
      [['generate', '--model', FIXTURE, '--temperature', '0', 'hi'], /--temperature/],
      [['generate', '--model', FIXTURE, '--dtype', 'fp8', 'hi'], /fp8/],
      [['generate', '--model', FIXTURE, '--num-beams', '2', '--num-return-sequences', '3', 'hi'], /^aigc: --num-return-sequences \(3\) cannot exceed --num-beams \(2\)/],
      [['generate', '--model', FIXTURE, '--top-k', 'x', 'hi'], /^aigc: option '--top-k <k>' argument 'x' is invalid/],
      [['generate', '--model', path.join(FIXTURE, 'config.json'), 'hi'], /is a file/],
      [['generate', '--model', FIXTURE, '--greedy', '--sample', 'hi'], /--greedy.*cannot be used with.*--sample/],
    ];
    for (const [args, re] of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(re);
      expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
    }
    const ok = await run(['generate', '--model', FIXTURE, '--truncate', '--greedy', '--max-new-tokens', '4', '--json', long]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out).prompt_tokens).toBe(60);
    expect(ok.err).toBe(`aigc: the prompt is ${gen.encode(long).length} tokens; kept its last 60 (--truncate) to fit the 64-token context window\n`);
    // A budget larger than the window: the prompt keeps half the window, and stderr says what is possible.
    const big = await run(['generate', '--model', FIXTURE, '--truncate', '--greedy', '--max-new-tokens', '500', '--json', long]);
    const j = JSON.parse(big.out);
    expect(j.prompt_tokens).toBe(32);
    expect(j.completion_tokens).toBeLessThanOrEqual(33);
    expect(big.err).toContain('aigc: the 64-token context window leaves room for 33 new tokens, not 500\n');
    const beams = await run(['generate', '--model', FIXTURE, '--truncate', '--num-beams', '2', '--max-new-tokens', '500', '--json', long]);
    expect(JSON.parse(beams.out).completion_tokens).toBeLessThanOrEqual(32);
    expect(beams.err).toContain('aigc: the 64-token context window leaves room for 32 new tokens, not 500\n');
  });

  test('a corrupt checkpoint is bad input', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aigc-corrupt-'));
    try {
      for (const f of ['config.json', 'vocab.json', 'merges.txt']) fs.copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
      fs.writeFileSync(path.join(dir, 'model.safetensors'), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
      const r = await run(['generate', '--model', dir, 'hi']);
      expect(r.code).toBe(2);
      expect(r.err).toContain('model.safetensors');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('Ctrl-C stops generation, prints what was generated, exits 130', async () => {
    let out = '';
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out += String(s);
      if (out.length > 0 && !sent) { sent = true; process.emit('SIGINT', 'SIGINT'); }
      return true;
    });
    let sent = false;
    try {
      const code = await main(['generate', '--model', FIXTURE, '--seed', '1', '--max-new-tokens', '40', '--stop', 'zzzzzz', 'Hello']);
      expect(code).toBe(130);
    } finally {
      o.mockRestore();
      process.exitCode = undefined;
    }
    const full = await gen('Hello', { seed: 1, maxNewTokens: 40, stop: ['zzzzzz'] });
    expect(out.endsWith('\n')).toBe(true);
    expect(out.length - 1).toBeLessThan(full.text.length);
    expect(full.text.startsWith(out.slice(0, -1))).toBe(true);
  });
});

describe('aigc tokenize', () => {
  test('prints ids as JSON, from TEXT or --file', async () => {
    // <|endoftext|> is text unless --special says to read it as the token.
    const r = await run(['tokenize', '--model', FIXTURE, 'The capital<|endoftext|>']);
    expect(r.code).toBe(0);
    const ids = JSON.parse(r.out);
    expect(ids).toEqual(gen.tokenizer.encode('The capital<|endoftext|>', { allowedSpecial: [] }));
    expect(ids).not.toContain(gen.tokenizer.eosTokenId);
    const special = JSON.parse((await run(['tokenize', '--model', FIXTURE, '--special', 'The capital<|endoftext|>'])).out);
    expect(special).toEqual([...gen.tokenizer.encode('The capital'), gen.tokenizer.eosTokenId]);
    expect(gen.encode('The capital<|endoftext|>', true)).toEqual(special);
    expect(gen.encode('The capital<|endoftext|>')).toEqual(ids);
    const file = path.join(os.tmpdir(), `aigc-tok-${process.pid}.txt`);
    fs.writeFileSync(file, 'Hello world');
    try {
      const f = await run(['tokenize', '--model', FIXTURE, '--file', file]);
      expect(JSON.parse(f.out)).toEqual(gen.tokenizer.encode('Hello world'));
    } finally {
      fs.rmSync(file);
    }
    expect((await run(['tokenize', '--model', FIXTURE])).code).toBe(2);
  });
});

describe('pipeline', () => {
  test('streaming yields the same text as the one-shot call; EOS ends with reason eos', async () => {
    let streamed = '';
    const s = gen.stream('Hello', { seed: 3, maxNewTokens: 10 });
    for await (const c of s) streamed += c;
    const out = await s.result;
    expect(streamed).toBe(out.text);
    expect(out).toMatchObject({ completionTokens: 10, finishReason: 'length' });
    const once = await gen('Hello', { seed: 3, maxNewTokens: 10 });
    expect(once.text).toBe(out.text);
    const first = once.tokens[0];
    const e = await gen('Hello', { seed: 3, maxNewTokens: 10, eosTokenId: first });
    expect(e).toMatchObject({ tokens: [first], finishReason: 'eos', text: '' });
  });

  test('breaking out of a stream cancels generation', async () => {
    const s = gen.stream('Hello', { seed: 3, maxNewTokens: 40, eosTokenId: null });
    for await (const c of s) { if (c) break; }
    const out = await s.result;
    expect(out.finishReason).toBe('abort');
    expect(out.completionTokens).toBeLessThan(40);
  });

  test('concurrent generations share decode steps and give exactly their solo outputs', async () => {
    const jobs = [
      { prompt: 'Hello world', o: { doSample: false, maxNewTokens: 12 } },
      { prompt: 'The capital of France', o: { seed: 3, temperature: 0.9, maxNewTokens: 10 } },
      { prompt: 'Once', o: { seed: 8, topK: 5, numReturnSequences: 2, maxNewTokens: 14 } },
      { prompt: 'Hello', o: { numBeams: 3, doSample: false, numReturnSequences: 2, maxNewTokens: 9 } },
    ];
    const solo: TextGenerationOutput[] = [];
    for (const j of jobs) solo.push(await gen(j.prompt, j.o));
    const spy = vi.spyOn(gen.model, 'forwardDecodeMany');
    try {
      const together = await Promise.all(jobs.map((j) => gen(j.prompt, j.o)));
      together.forEach((t, i) => expect(t.sequences.map((q) => q.tokens), jobs[i].prompt).toEqual(solo[i].sequences.map((q) => q.tokens)));
      // Steps ran batched: some forward served all four generations (1 + 1 + 2 + 3 beams = 7 rows) at once.
      expect(Math.max(...spy.mock.calls.map(([segs]) => segs.length))).toBe(4);
    } finally {
      spy.mockRestore();
    }
  });

  test('batch of prompts equals each prompt alone (greedy)', async () => {
    const prompts = ['The capital of France is', 'Hi', 'What is the answer to the question?'];
    const outs = await gen.batch(prompts, { doSample: false, maxNewTokens: 8 });
    for (const [i, p] of prompts.entries()) expect(outs[i].tokens).toEqual((await gen(p, { doSample: false, maxNewTokens: 8 })).tokens);
  });

  test('no model and no bundled default: a clear error', async () => {
    if (fs.existsSync(path.join(REPO, 'models/text-default/config.json'))) return;
    await expect(textGeneration()).rejects.toThrow(/no bundled default model/);
  });
});

describe('chat', () => {
  const tok = { encode: (t: string) => Array.from(t, (c) => c.charCodeAt(0)) };

  test('plain template renders the transcript and drops the oldest turns to fit', () => {
    const t = plainTemplate(tok);
    const msgs = [{ role: 'system' as const, content: 'S' }, { role: 'user' as const, content: 'a' }, { role: 'assistant' as const, content: 'b' }, { role: 'user' as const, content: 'c' }];
    const text = (ids: number[]) => String.fromCharCode(...ids);
    expect(text(t.render(msgs, 1000))).toBe('S\nUser: a\nAssistant: b\nUser: c\nAssistant:');
    expect(text(t.render(msgs, 2 + 9 + 10))).toBe('S\nUser: c\nAssistant:');
    expect(t.stop).toContain('\nUser:');
  });

  test('DialoGPT is recognised by name or by its conversational config', () => {
    expect(isDialoGpt('microsoft/DialoGPT-small')).toBe(true);
    expect(isDialoGpt('/cache/models--microsoft--DialoGPT-medium/snapshots/abc')).toBe(true);
    expect(isDialoGpt('/models/x', { task_specific_params: { conversational: { max_length: 1000 } } })).toBe(true);
    expect(isDialoGpt('gpt2', { task_specific_params: { 'text-generation': {} } })).toBe(false);
    expect(gen.chatTemplate.name).toBe('plain');
  });

  test('DialoGPT template: turns separated by EOS', () => {
    const t = dialoGptTemplate(tok, 999);
    expect(t.render([{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }, { role: 'user', content: 'ok' }], 100))
      .toEqual([104, 105, 999, 121, 111, 999, 111, 107, 999]);
    expect(t.render([{ role: 'user', content: 'hi' }, { role: 'user', content: 'abcdef' }], 4)).toEqual([100, 101, 102, 999]);
  });

  test('the chat loop streams replies, keeps history, handles /reset and /exit', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let shown = '';
    output.on('data', (d) => { shown += String(d); });
    // Records the history each reply is generated from (a snapshot: runChat keeps appending to it).
    const histories: string[][] = [];
    const recording = {
      modelDir: gen.modelDir, chatTemplate: gen.chatTemplate,
      streamChat: (m: Parameters<TextGenerator['streamChat']>[0], o: Parameters<TextGenerator['streamChat']>[1]) => {
        histories.push(m.map((x) => `${x.role}:${x.content}`));
        return gen.streamChat(m, o);
      },
    } as unknown as TextGenerator;
    const done = runChat(recording, { input, output, interactive: false }, { doSample: false, maxNewTokens: 5 });
    input.write('Hello there\n');
    input.write('How are you?\n');
    input.write('/reset\n');
    input.write('Hi\n');
    input.write('/exit\n');
    input.write('never read\n');
    await done;
    expect(histories).toHaveLength(3);
    expect(histories[0]).toEqual(['user:Hello there']);
    expect(histories[1][0]).toBe('user:Hello there');
    expect(histories[1][1]).toMatch(/^assistant:/);
    expect(histories[1][2]).toBe('user:How are you?');
    expect(histories[2]).toEqual(['user:Hi']);
    expect(shown).toContain('(conversation reset)');
    const reply = await gen.chat([{ role: 'user', content: 'Hi' }], { doSample: false, maxNewTokens: 5 });
    expect(shown.trimEnd().endsWith(reply.text)).toBe(true);
  });

  test('the chat loop: replyEnded after each reply, and quit ends it while it waits for a line', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    output.resume();
    const quit = new AbortController();
    const events: string[] = [];
    const done = runChat(gen, {
      input, output, interactive: true, quit: quit.signal,
      replySignal: () => { events.push('start'); return undefined; },
      replyEnded: () => events.push('end'),
    }, { doSample: false, maxNewTokens: 3 });
    input.write('Hello\n');
    while (events.length < 2) await new Promise((r) => setTimeout(r, 5));
    quit.abort(); // as Ctrl-C at the prompt: no /exit, no end of input
    await done;
    expect(events).toEqual(['start', 'end']);
  });
});

describe('built CLI', () => {
  const bin = path.join(REPO, 'bin/aigc.js');
  const built = fs.existsSync(path.join(REPO, 'dist/cli/commands/generate.js'));
  test.skipIf(!built)('bin/aigc.js generate --json runs end to end', () => {
    const r = spawnSync(process.execPath, [bin, 'generate', '--model', FIXTURE, '--greedy', '--max-new-tokens', '4', '--json', 'Hello'], { encoding: 'utf8', env: { ...process.env, AIGC_BACKEND: 'ts' } });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).completion_tokens).toBe(4);
    const bad = spawnSync(process.execPath, [bin, 'generate', '--model', FIXTURE, '--top-k', '-3', 'x'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
  });

  test.skipIf(!built)('- reads the prompt or the text from standard input', () => {
    const env = { ...process.env, AIGC_BACKEND: 'ts' };
    const viaStdin = spawnSync(process.execPath, [bin, 'generate', '--model', FIXTURE, '--greedy', '--max-new-tokens', '4', '--json', '-'], { encoding: 'utf8', env, input: 'Hello world\n' });
    const viaArg = spawnSync(process.execPath, [bin, 'generate', '--model', FIXTURE, '--greedy', '--max-new-tokens', '4', '--json', 'Hello world'], { encoding: 'utf8', env });
    expect(viaStdin.status, viaStdin.stderr).toBe(0);
    expect(JSON.parse(viaStdin.stdout).tokens).toEqual(JSON.parse(viaArg.stdout).tokens); // the final newline is dropped
    const tok = spawnSync(process.execPath, [bin, 'tokenize', '--model', FIXTURE, '--file', '-'], { encoding: 'utf8', input: 'Hello world\n' });
    expect(JSON.parse(tok.stdout)).toEqual(gen.tokenizer.encode('Hello world\n'));
  });

  test.skipIf(!built)('a reader that goes away (| head) ends generation quietly', () => {
    const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${bin}" generate --model "${FIXTURE}" --max-new-tokens 60 --seed 3 "Hello" | head -c 3`]);
    expect(r.status, String(r.stderr)).toBe(0);
    expect(r.stdout).toHaveLength(3); // bytes
    expect(String(r.stderr)).toBe('');
  });
});
