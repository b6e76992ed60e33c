/**
 * Crash safety and exact resume, through the real CLI in a child process:
 * - SIGKILL mid-run, then `--resume`: the run continues from the last checkpoint and every
 *   later loss is identical to an uninterrupted run's (weights, AdamW moments, step, dropout
 *   RNG and data position all restored);
 * - Ctrl-C (SIGINT): the child finishes its step, saves a checkpoint, exits 130, and resuming
 *   from that checkpoint also matches the uninterrupted run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend, setBackend } from '../../src/engine/backend/index.js';
import { runTextTrain } from '../../src/text/train/run.js';
import { listCheckpoints } from '../../src/text/train/checkpoint.js';

const ROOT = path.join(__dirname, '..', '..');
const VITE_NODE = path.join(ROOT, 'node_modules', '.bin', 'vite-node');
const ENTRY = path.join(ROOT, 'test', 'fixtures', 'gpt-train', 'cli.ts');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aigc-resume-'));
const STEPS = 16;
const data = path.join(tmp, 'data.txt');
const cache = path.join(tmp, 'cache');
// Flags shared by every run: dropout and accumulation make the RNG and data position matter.
const FLAGS = ['--preset', 'tiny', '--vocab-size', '300', '--batch-size', '2', '--block-size', '32', '--grad-accum', '2',
  '--dropout', '0.1', '--lr', '3e-3', '--warmup', '4', '--eval-every', '6', '--eval-batches', '2', '--seed', '11',
  '--cache-dir', cache, '--val-fraction', '0.1'];

let reference: Map<number, number>;
let prevBackend: ReturnType<typeof backend>;

beforeAll(async () => {
  prevBackend = backend();
  setBackend('ts'); // the children run the TypeScript kernels too: bit-identical arithmetic
  const words = 'in the beginning was the word and the word was with god and the light shineth in darkness'.split(' ');
  let s = 7, text = '';
  for (let i = 0; i < 1500; i++) { s = (s * 1103515245 + 12345) % 2147483648; text += words[s % words.length] + (i % 13 === 12 ? '.\n' : ' '); }
  fs.writeFileSync(data, text);
  reference = new Map();
  await runTextTrain({
    data: [data], out: path.join(tmp, 'ref'), preset: 'tiny', vocabSize: 300, valFraction: 0.1, cacheDir: cache,
    settings: { steps: STEPS, batchSize: 2, blockSize: 32, gradAccum: 2, dropout: 0.1, lr: 3e-3, warmupSteps: 4, evalEvery: 6, evalBatches: 2, seed: 11, checkpointEvery: 0 },
    progress: false, handleSignals: false, log: () => undefined,
    onRecord: (r) => { if (r.type === 'step') reference.set(r.step as number, r.loss as number); },
  });
  expect(reference.size).toBe(STEPS);
}, 120_000);

afterAll(() => {
  setBackend(prevBackend);
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Run { child: ChildProcess; steps: Map<number, number>; code: Promise<number | null>; stderr: () => string }

function startCli(args: string[], onStep?: (step: number, child: ChildProcess) => void): Run {
  const child = spawn(VITE_NODE, [ENTRY, ...args], { cwd: ROOT, env: { ...process.env, AIGC_BACKEND: 'ts' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const steps = new Map<number, number>();
  let buf = '', err = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (!line.startsWith('{')) continue;
      const r = JSON.parse(line) as { type: string; step: number; loss: number };
      if (r.type === 'step') {
        steps.set(r.step, r.loss);
        onStep?.(r.step, child);
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const code = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  return { child, steps, code, stderr: () => err };
}

function expectSameAsReference(steps: Map<number, number>, from: number): void {
  const got = [...steps.keys()].sort((a, b) => a - b);
  expect(got[0]).toBe(from);
  expect(got[got.length - 1]).toBe(STEPS);
  for (const s of got) expect(steps.get(s), `loss at step ${s}`).toBe(reference.get(s));
}

describe('resume after a crash', () => {
  it('SIGKILL mid-run, then --resume: identical subsequent losses', async () => {
    const out = path.join(tmp, 'killed');
    let killedAt = 0;
    const a = startCli(['text', 'train', data, '-o', out, '--steps', String(STEPS), '--checkpoint-every', '4', '--json', '-q', ...FLAGS], (step, child) => {
      if (step >= 10 && !killedAt) { killedAt = step; child.kill('SIGKILL'); }
    });
    const code = await a.code;
    expect(code, a.stderr()).toBeNull(); // killed by a signal
    expect(killedAt).toBeGreaterThanOrEqual(10);
    // The losses before the kill already matched.
    for (const [s, l] of a.steps) expect(l).toBe(reference.get(s));
    // The newest complete checkpoint is the last multiple of 4 before the kill (8, unless the
    // child ran on before the signal landed).
    const done = listCheckpoints(out);
    const from = done[done.length - 1];
    expect(from % 4).toBe(0);
    expect(from).toBeGreaterThanOrEqual(8);
    expect(from).toBeLessThanOrEqual(killedAt);
    expect(fs.existsSync(path.join(out, `checkpoint-${from}`, 'model.safetensors'))).toBe(true);

    const b = startCli(['text', 'train', '-o', out, '--resume', '--json', '-q']);
    expect(await b.code, b.stderr()).toBe(0);
    expectSameAsReference(b.steps, from + 1);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'train_summary.json'), 'utf8'));
    expect(summary.steps).toBe(STEPS);
  }, 150_000);

  it('Ctrl-C saves a checkpoint and exits 130; resuming from it matches too', async () => {
    const out = path.join(tmp, 'interrupted');
    let sent = false;
    const a = startCli(['text', 'train', data, '-o', out, '--steps', String(STEPS), '--checkpoint-every', '0', '--json', ...FLAGS], (step, child) => {
      if (step >= 5 && !sent) { sent = true; child.kill('SIGINT'); }
    });
    expect(await a.code, a.stderr()).toBe(130);
    expect(a.stderr()).toContain('SIGINT: finishing this step and saving a checkpoint');
    const last = Math.max(...a.steps.keys());
    expect(listCheckpoints(out)).toEqual([last]);
    expect(last).toBeLessThan(STEPS);
    const resumed = new Map<number, number>();
    await runTextTrain({
      data: [], out, resume: true, progress: false, handleSignals: false, log: () => undefined,
      onRecord: (r) => { if (r.type === 'step') resumed.set(r.step as number, r.loss as number); },
    });
    expectSameAsReference(resumed, last + 1);
  }, 150_000);
});
