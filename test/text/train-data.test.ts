/**
 * Training data: errors that name the file and line (empty file, binary junk, invalid JSONL),
 * the answer-only loss mask of instruction data, train/validation split, the token cache, and
 * the CLI's exit code 2 for bad data.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  collectDataFiles, loadTokenCache, readDocuments, readJsonlFile, readTextFile, saveTokenCache, splitTrainVal, tokenizeDocuments,
} from '../../src/io/textdata.js';
import { DataError } from '../../src/errors.js';
import { main } from '../../src/cli/main.js';
import { BatchSampler, evalBatches } from '../../src/text/train/batches.js';
import { prepareData, runTokenizerTrain } from '../../src/text/train/run.js';
import { trainByteLevelBPE } from '../../src/text/tokenizer/train.js';
import { ByteLevelBPETokenizer } from '../../src/text/tokenizer/bpe.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aigc-textdata-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const write = (name: string, data: string | Uint8Array) => {
  const p = path.join(tmp, name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, data);
  return p;
};
const errorOf = (f: () => unknown): DataError => {
  try { f(); } catch (e) { expect(e).toBeInstanceOf(DataError); return e as DataError; }
  throw new Error('expected a DataError');
};

/** A character-level stand-in tokenizer: one id per UTF-16 unit, eos = 0. */
const charTok = { encode: (t: string) => Array.from(t, (c) => c.charCodeAt(0) % 250 + 1), vocabSize: 256, eosTokenId: 0 };

describe('bad data is reported with file and line', () => {
  it('empty and whitespace-only files', () => {
    const f = write('empty.txt', '');
    expect(errorOf(() => readTextFile(f)).message).toBe(`${f}: the file is empty (no text to train on)`);
    const g = write('blank.txt', '\n  \n\t\n');
    expect(errorOf(() => readTextFile(g)).message).toContain(`${g}: the file is empty`);
  });

  it('binary junk: invalid UTF-8 and control bytes, with the line', () => {
    const f = write('junk.txt', Buffer.concat([Buffer.from('line one\nline two\nthree '), Buffer.from([0xff, 0xfe, 0x00, 0x12])]));
    expect(errorOf(() => readTextFile(f)).message).toMatch(new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: not UTF-8 text \\(byte 0xff`));
    const g = write('nul.txt', Buffer.concat([Buffer.from('ok\n'), Buffer.from([0x41, 0x00, 0x42])]));
    expect(errorOf(() => readTextFile(g)).message).toMatch(/nul\.txt:2: control byte 0x00/);
    // A real PNG header is binary too.
    const png = write('image.txt', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]));
    expect(errorOf(() => readTextFile(png)).message).toContain(`${png}:1: not UTF-8 text (byte 0x89`);
  });

  it('valid UTF-8 with multi-byte characters is accepted', () => {
    const f = write('utf8.txt', 'naïve café — 東京 🚀\n');
    expect(readTextFile(f)).toBe('naïve café — 東京 🚀\n');
  });

  it('JSONL: invalid JSON, wrong shapes, and which line', () => {
    const f = write('bad.jsonl', '{"prompt": "a", "completion": "b"}\n\n{"prompt": "c", "completion": \n');
    expect(errorOf(() => readJsonlFile(f)).message).toMatch(new RegExp(`bad\\.jsonl:3: invalid JSON`));
    const g = write('shape.jsonl', '{"prompt": "a", "completion": "b"}\n{"text": "x"}\n');
    expect(errorOf(() => readJsonlFile(g)).message).toBe(`${g}:2: expected {"prompt","completion"} or {"messages":[...]}, got an object with keys ["text"]`);
    const h = write('roles.jsonl', '{"messages": [{"role": "user", "content": "hi"}, {"role": "bot", "content": "yo"}]}\n');
    expect(errorOf(() => readJsonlFile(h)).message).toBe(`${h}:1: messages[1].role must be "system", "user" or "assistant", got "bot"`);
    const k = write('arr.jsonl', '[1,2]\n');
    expect(errorOf(() => readJsonlFile(k)).message).toBe(`${k}:1: expected an object {"prompt","completion"} or {"messages":[...]}, got an array`);
    const c = write('nocompletion.jsonl', '{"prompt": "a", "completion": 3}\n');
    expect(errorOf(() => readJsonlFile(c)).message).toBe(`${c}:1: "completion" must be a non-empty string, got a number`);
  });

  it('missing paths and empty folders', () => {
    expect(errorOf(() => collectDataFiles([path.join(tmp, 'nope.txt')])).message).toContain('nope.txt does not exist');
    fs.mkdirSync(path.join(tmp, 'emptydir'));
    expect(errorOf(() => collectDataFiles([path.join(tmp, 'emptydir')])).message).toContain('has no text files');
  });

  it('aigc text train exits 2 and names the file and line', async () => {
    const f = write('cli.jsonl', '{"prompt": "a", "completion": "b"}\nnot json\n');
    const chunks: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string | Uint8Array) => { chunks.push(String(s)); return true; }) as typeof process.stderr.write;
    let code: number;
    try {
      code = await main(['text', 'train', f, '-o', path.join(tmp, 'cli-out'), '--preset', 'tiny', '--vocab-size', '300', '--steps', '1', '-q']);
    } finally {
      process.stderr.write = orig;
    }
    expect(code).toBe(2);
    expect(chunks.join('')).toContain(`aigc: ${f}:2: invalid JSON`);
    expect(chunks.join('')).not.toContain('    at '); // no stack trace
  });
});

describe('instruction data', () => {
  it('masks the loss to the answer tokens (pair and chat), one row per record', () => {
    const f = write('inst.jsonl', [
      JSON.stringify({ prompt: 'Q: 2+2?\nA:', completion: ' 4' }),
      JSON.stringify({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }, { role: 'user', content: 'Bye' }, { role: 'assistant', content: 'Ciao' }] }),
    ].join('\n') + '\n');
    const docs = readDocuments([f]);
    const t = tokenizeDocuments(docs, charTok);
    expect(t.records).toHaveLength(2);
    const textOf = (from: number, to: number, m: number) => t.tokens.slice(from, to).map((id, i) => (t.mask[from + i] === m ? (id === 0 ? '<eos>' : String.fromCharCode(id - 1)) : '')).join('');
    const [r0, r1] = t.records;
    expect(textOf(r0[0], r0[0] + r0[1], 1)).toBe(' 4<eos>');
    expect(textOf(r0[0], r0[0] + r0[1], 0)).toBe('Q: 2+2?\nA:');
    expect(textOf(r1[0], r1[0] + r1[1], 1)).toBe(' Hello\n Ciao\n<eos>');
    expect(textOf(r1[0], r1[0] + r1[1], 0)).toBe('Be brief.\nUser: Hi\nAssistant:User: Bye\nAssistant:');
    // Targets: only answer tokens are predicted; the rest are ignored (-1).
    const { train } = splitTrainVal(t, 64, 0, 256);
    const b = [...evalBatches(train, 2, 64, 0)][0];
    const predicted = Array.from(b.targets.subarray(0, 64)).filter((x) => x >= 0).map((id) => (id === 0 ? '<eos>' : String.fromCharCode(id - 1))).join('');
    expect(predicted).toBe(' 4<eos>');
    expect(b.count).toBe(' 4'.length + 1 + ' Hello\n Ciao\n'.length + 1);
  });
});

describe('plain text split, sampler and cache', () => {
  it('windows of block+1 at stride block; validation is the tail; the cache round-trips', () => {
    const text = 'abcdefghij'.repeat(30); // 300 chars -> 300 tokens + eos
    const f = write('plain.txt', text);
    const t = tokenizeDocuments(readDocuments([f]), charTok);
    expect(t.tokens).toHaveLength(301);
    const { train, val } = splitTrainVal(t, 16, 0.1, 256);
    expect(train.segments[0]).toBe(0);
    expect(train.segments[1]).toBe(17);
    expect(train.segments[2]).toBe(16);
    const lastTrain = train.segments[train.segments.length - 2] + train.segments[train.segments.length - 1];
    expect(lastTrain).toBeLessThanOrEqual(val!.segments[0] + 1);
    expect(val!.segments[0]).toBe(Math.floor(301 * 0.9));
    const dir = path.join(tmp, 'cache');
    saveTokenCache(dir, { train, val }, [f]);
    const back = loadTokenCache(dir)!;
    expect(Array.from(back.train.tokens)).toEqual(Array.from(train.tokens));
    expect(Array.from(back.train.segments)).toEqual(Array.from(train.segments));
    expect(Array.from(back.val!.segments)).toEqual(Array.from(val!.segments));
    // The sampler is deterministic and resumable from (epoch, index).
    const a = new BatchSampler(train, 3, 16, 7, 0), b = new BatchSampler(train, 3, 16, 7, 0);
    for (let i = 0; i < 9; i++) a.next();
    b.setPosition(a.position);
    for (let i = 0; i < 5; i++) expect(Array.from(b.next().ids)).toEqual(Array.from(a.next().ids));
    // Targets are the next tokens.
    const first = [...evalBatches(train, 1, 16, 0, 1)][0];
    expect(Array.from(first.targets.subarray(0, 15))).toEqual(Array.from(first.ids.subarray(1, 16)));
  });
});

describe('aigc text tokenizer train', () => {
  it('learns a BPE of the requested size and saves it in the Hugging Face format', () => {
    const words = 'the cat sat on mat ate rat where is dog ran far away from house with green door'.split(' ');
    let x = 1, text = '';
    for (let i = 0; i < 2000; i++) { x = (x * 48271) % 2147483647; text += words[x % words.length] + (i % 9 === 8 ? '. ' : ' '); }
    const f = write('corpus/a.txt', text + 'the cat sat on the mat.\n');
    write('corpus/b.jsonl', JSON.stringify({ prompt: 'where is the cat?', completion: ' on the mat' }) + '\n');
    const out = path.join(tmp, 'tok');
    const r = runTokenizerTrain({ data: [path.dirname(f)], vocabSize: 280, out });
    expect(r.vocabSize).toBe(280);
    for (const name of ['vocab.json', 'merges.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) expect(fs.existsSync(path.join(out, name)), name).toBe(true);
    const tok = ByteLevelBPETokenizer.fromDirectory(out);
    expect(tok.vocabSize).toBe(280);
    expect(tok.eosTokenId).toBe(279);
    const ids = tok.encode(' the cat sat on the mat');
    expect(ids.length).toBeLessThan(' the cat sat on the mat'.length); // merges, not only bytes
    expect(ids.some((id) => id >= 256)).toBe(true);
    expect(tok.decode(ids)).toBe(' the cat sat on the mat');
  });
});

describe('prepareData', () => {
  it('tokenizes once: the second run reads the binary cache (with and without --val-data)', () => {
    const tok = trainByteLevelBPE(['some words and more words, and some more'], 270);
    const tr = write('pd/train.txt', 'some words and more words. '.repeat(50));
    const va = write('pd/val.txt', 'more words and some words. '.repeat(10));
    const root = path.join(tmp, 'pd-cache');
    for (const valFiles of [undefined, [va]]) {
      const logs: string[] = [];
      const a = prepareData([tr], valFiles, tok, 16, 0.1, 1, root, (m) => logs.push(m));
      const b = prepareData([tr], valFiles, tok, 16, 0.1, 1, root, (m) => logs.push(m));
      expect(logs[0]).toMatch(/^tokenized .* cached in /);
      expect(logs[1]).toMatch(/^tokenized data from the cache /);
      expect(b.cacheDir).toBe(a.cacheDir);
      expect(Array.from(b.train.tokens)).toEqual(Array.from(a.train.tokens));
      expect(Array.from(b.val!.segments)).toEqual(Array.from(a.val!.segments));
      if (valFiles) {
        // Validation rows come from val.txt: they start with its first tokens.
        const first = [...evalBatches(b.val!, 1, 16, 0, 1)][0];
        expect(tok.decode(Array.from(first.ids.subarray(0, 4)))).toBe(tok.decode(tok.encode('more words and some words.').slice(0, 4)));
      }
    }
  });
});
