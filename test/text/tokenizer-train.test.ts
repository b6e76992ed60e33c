import { describe, expect, test } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trainByteLevelBPE } from '../../src/text/tokenizer/train.js';
import { ByteLevelBPETokenizer } from '../../src/text/tokenizer/bpe.js';
import { TokenizerError } from '../../src/text/tokenizer/errors.js';
import { fixedSamples, mixedText, randomString, seededRandom } from '../../src/text/tokenizer/corpus.js';

describe('trainByteLevelBPE', () => {
  test('a known tiny corpus gives the expected first merges', () => {
    const corpus = ['low low low low low lower lower newest newest newest newest newest newest widest widest widest'];
    const tok = trainByteLevelBPE(corpus, 256 + 6 + 1);
    expect(tok.merges).toEqual([['e', 's'], ['es', 't'], ['l', 'o'], ['lo', 'w'], ['e', 'w'], ['n', 'ew']]);
    expect(tok.vocabSize).toBe(263);
    expect(tok.idToToken(256)).toBe('es');
    expect(tok.idToToken(261)).toBe('new');
    expect(tok.idToToken(262)).toBe('<|endoftext|>');
    expect(tok.eosTokenId).toBe(262);
    expect(tok.specialTokens).toEqual(['<|endoftext|>']);
    expect(tok.encode(' newest')).toEqual([tok.tokenToId('Ġ'), 261, 257]);
  });

  test('the 256 byte tokens come first, in GPT-2 order', () => {
    const tok = trainByteLevelBPE(['hello'], 300);
    expect(tok.idToToken(0)).toBe('!');
    expect(tok.idToToken(220)).toBe('Ġ');
    expect(tok.idToToken(255)).toBe('Ń');
  });

  test('is deterministic, learns the requested size, and round-trips text', () => {
    const texts = [...fixedSamples(), mixedText(200_000, 17)];
    const a = trainByteLevelBPE(texts, 1000);
    const b = trainByteLevelBPE(texts, 1000);
    expect(a.merges).toEqual(b.merges);
    expect(a.vocabSize).toBe(1000);
    expect(a.eosTokenId).toBe(999);
    const rand = seededRandom(3);
    const checks = [...fixedSamples(), mixedText(50_000, 99), 'unseen wörds ✨ 🦄', '<|endoftext|>'];
    for (let k = 0; k < 300; k++) checks.push(randomString(rand, 1 + Math.floor(rand() * 50), 'mixed'));
    for (const s of checks) expect(a.decode(a.encode(s))).toBe(s);
    // Compression: far fewer tokens than bytes on text like the training text.
    const t = mixedText(50_000, 5);
    expect(a.encode(t).length).toBeLessThan(Buffer.byteLength(t) * 0.6);
    // Special token.
    expect(a.encode('a<|endoftext|>b', { allowedSpecial: 'all' })).toContain(999);
  });

  test('stops early when the corpus runs out of pairs; save/load round trip', () => {
    const tok = trainByteLevelBPE(['ab ab ab', 'cd'], 5000, { specialTokens: ['<|endoftext|>', '<|pad|>'] });
    expect(tok.merges.length).toBeGreaterThan(0);
    expect(tok.vocabSize).toBeLessThan(300);
    expect(tok.idToToken(tok.vocabSize - 1)).toBe('<|pad|>');
    expect(tok.idToToken(tok.vocabSize - 2)).toBe('<|endoftext|>');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aigc-train-'));
    try {
      tok.save(dir);
      const back = ByteLevelBPETokenizer.fromDirectory(dir);
      expect(back.merges).toEqual(tok.merges);
      expect(back.encode('ab cd ab<|pad|>', { allowedSpecial: 'all' })).toEqual(tok.encode('ab cd ab<|pad|>', { allowedSpecial: 'all' }));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('incremental pair bookkeeping matches a naive recount-every-step trainer', () => {
    const texts = [mixedText(8_000, 23), fixedSamples().join(' ')];
    const nMerges = 150;
    const tok = trainByteLevelBPE(texts, 256 + nMerges + 1, { minFrequency: 1 });
    // Naive reference: words as token-string arrays, full recount each step.
    const byteTok = (byte: number): string => {
      for (let id = 0; id < 256; id++) if (tok.tokenBytes(id)![0] === byte) return tok.idToToken(id)!;
      throw new Error('no byte');
    };
    const byteTokens = Array.from({ length: 256 }, (_, b) => byteTok(b));
    const counts = new Map<string, number>();
    for (const t of texts) for (const w of tok.pretokenize(t)) counts.set(w, (counts.get(w) ?? 0) + 1);
    let words = [...counts].map(([w, c]) => ({ syms: [...new TextEncoder().encode(w)].map((b) => byteTokens[b]!), c }));
    const idOf = new Map<string, number>();
    for (let i = 0; i < 256; i++) idOf.set(tok.idToToken(i)!, i);
    const want: [string, string][] = [];
    for (let step = 0; step < nMerges; step++) {
      const pc = new Map<string, { a: string; b: string; n: number }>();
      for (const { syms, c } of words) {
        for (let i = 0; i + 1 < syms.length; i++) {
          const k = syms[i] + '\u0000' + syms[i + 1];
          const e = pc.get(k) ?? { a: syms[i]!, b: syms[i + 1]!, n: 0 };
          e.n += c;
          pc.set(k, e);
        }
      }
      let best: { a: string; b: string; n: number } | undefined;
      for (const e of pc.values()) {
        if (!best || e.n > best.n || (e.n === best.n && (idOf.get(e.a)! < idOf.get(best.a)! ||
          (idOf.get(e.a) === idOf.get(best.a) && idOf.get(e.b)! < idOf.get(best.b)!)))) best = e;
      }
      if (!best) break;
      want.push([best.a, best.b]);
      const m = best.a + best.b;
      if (!idOf.has(m)) idOf.set(m, idOf.size);
      words = words.map(({ syms, c }) => {
        const out: string[] = [];
        for (let i = 0; i < syms.length;) {
          if (i + 1 < syms.length && syms[i] === best!.a && syms[i + 1] === best!.b) { out.push(m); i += 2; } else out.push(syms[i++]!);
        }
        return { syms: out, c };
      });
    }
    expect(tok.merges).toEqual(want);
  });

  test('rejects a vocab size below 256 + specials', () => {
    expect(() => trainByteLevelBPE(['x'], 256)).toThrow(TokenizerError);
  });
});
