/**
 * End to end: `runTextTrain` trains a tiny GPT from scratch (with its own BPE) until it has
 * memorized a short text (training loss < 0.05), and the saved Hugging Face directory then
 * generates that text back through the text-generation pipeline.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runTextEval, runTextTrain } from '../../src/text/train/run.js';
import { textGeneration } from '../../src/text/pipeline.js';

const TEXT = 'The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs!';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aigc-memorize-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('memorization', () => {
  it('drives the training loss below 0.05 and generates the text back', async () => {
    const data = path.join(tmp, 'pangrams.txt');
    fs.writeFileSync(data, TEXT);
    const out = path.join(tmp, 'run');
    const losses: number[] = [];
    const res = await runTextTrain({
      data: [data], out, preset: 'tiny', vocabSize: 300, valFraction: 0, cacheDir: path.join(tmp, 'cache'),
      settings: { steps: 150, batchSize: 2, blockSize: 64, lr: 3e-3, minLr: 1e-3, warmupSteps: 10, evalEvery: 0, checkpointEvery: 0, seed: 3 },
      progress: false, handleSignals: false, log: () => undefined,
      onRecord: (r) => { if (r.type === 'step') losses.push(r.loss as number); },
    });
    expect(res.steps).toBe(150);
    expect(losses[0]).toBeGreaterThan(4); // ~ln(300) at the start
    expect(losses[losses.length - 1]).toBeLessThan(0.05);
    for (const f of ['config.json', 'model.safetensors', 'generation_config.json', 'tokenizer.json', 'vocab.json', 'merges.txt', 'tokenizer_config.json', 'loss.svg']) {
      expect(fs.existsSync(path.join(out, f)), f).toBe(true);
    }
    expect(fs.readFileSync(path.join(out, 'loss.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<path d="M/);

    const gen = await textGeneration(out);
    const r = await gen('The quick', { doSample: false, maxNewTokens: 80 });
    expect('The quick' + r.text).toBe(TEXT);
    expect(r.finishReason).toBe('eos');

    // aigc text eval: the memorized text has a perplexity near 1, an unrelated one does not.
    const seen = await runTextEval({ model: out, data: [data] });
    expect(seen.perplexity).toBeLessThan(1.1);
    const other = path.join(tmp, 'other.txt');
    fs.writeFileSync(other, 'Sphinx of black quartz, judge my vow. How vexingly quick daft zebras jump!');
    expect((await runTextEval({ model: out, data: [other] })).perplexity).toBeGreaterThan(10);
  });

  it('fine-tunes a model on chat records (loss on the answers only) so that chat() answers', async () => {
    const data = path.join(tmp, 'chat.jsonl');
    const recs = [
      { messages: [{ role: 'user', content: 'What is the capital of France?' }, { role: 'assistant', content: 'Paris.' }] },
      { messages: [{ role: 'user', content: 'What is the capital of Italy?' }, { role: 'assistant', content: 'Rome.' }] },
    ];
    fs.writeFileSync(data, recs.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const out = path.join(tmp, 'chat-run');
    const losses: number[] = [];
    await runTextTrain({
      data: [data], out, model: path.join(__dirname, '..', 'fixtures', 'gpt2-tiny'), valFraction: 0, cacheDir: path.join(tmp, 'cache'),
      settings: { steps: 120, batchSize: 2, blockSize: 64, lr: 5e-3, minLr: 1e-3, warmupSteps: 5, evalEvery: 0, checkpointEvery: 0, weightDecay: 0 },
      progress: false, handleSignals: false, log: () => undefined,
      onRecord: (r) => { if (r.type === 'step') losses.push(r.loss as number); },
    });
    expect(losses[losses.length - 1]).toBeLessThan(0.05);
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'tokenizer_config.json'), 'utf8'));
    expect(cfg.chat_template).toContain("'User: '");
    const gen = await textGeneration(out);
    const fr = await gen.chat([{ role: 'user', content: 'What is the capital of France?' }], { doSample: false, maxNewTokens: 12 });
    expect(fr.text).toBe('Paris.');
    const it_ = await gen.chat([{ role: 'user', content: 'What is the capital of Italy?' }], { doSample: false, maxNewTokens: 12 });
    expect(it_.text).toBe('Rome.');
  });
});
