import { describe, expect, test } from 'vitest';
import {
  CLS_LETTER, CLS_NUMBER, CLS_OTHER, CLS_SPACE, bytesToUnicode, charClass, gpt2ByteOrder, gpt2Regex, pretokenize,
} from '../../src/text/tokenizer/pretokenize.js';
import { fixedSamples, randomString, seededRandom } from '../../src/text/tokenizer/corpus.js';

function regexSplit(text: string): string[] {
  return text.match(gpt2Regex()) ?? [];
}

describe('GPT-2 pre-tokenizer state machine', () => {
  test('classifies every code point exactly like the regex classes', () => {
    const reL = /^\p{L}$/u;
    const reN = /^\p{N}$/u;
    const reS = /^\s$/u;
    const mismatches: number[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      const s = String.fromCodePoint(cp);
      const want = reL.test(s) ? CLS_LETTER : reN.test(s) ? CLS_NUMBER : reS.test(s) ? CLS_SPACE : CLS_OTHER;
      if (charClass(cp) !== want) mismatches.push(cp);
    }
    expect(mismatches).toEqual([]);
    // Every \s character is one UTF-16 unit (the state machine relies on it).
    for (let cp = 0x10000; cp <= 0x10ffff; cp++) expect(charClass(cp) === CLS_SPACE).toBe(false);
  });

  test('matches the regex on every string of length <= 4 over a 23-character alphabet', () => {
    const alphabet = ["'", 's', 't', 'r', 'e', 'v', 'l', 'm', 'd', 'x', ' ', '\t', '\n', '1', '٣', '.', '😀', '\u00a0',
      '\ud800', '\udc00', 'ж', '𝟙', '𐌰'];
    let checked = 0;
    const rec = (prefix: string, depth: number): void => {
      if (prefix.length > 0) {
        const got = pretokenize(prefix);
        const want = regexSplit(prefix);
        if (got.length !== want.length || got.some((p, i) => p !== want[i])) {
          expect({ text: prefix, got }).toEqual({ text: prefix, got: want });
        }
        checked++;
      }
      if (depth === 0) return;
      for (const c of alphabet) rec(prefix + c, depth - 1);
    };
    rec('', 4);
    expect(checked).toBe(23 + 23 ** 2 + 23 ** 3 + 23 ** 4);
  });

  test('matches the regex on every string of length <= 6 over an 11-character alphabet', () => {
    const alphabet = ["'", 's', 'l', 'e', ' ', '\n', 'a', '1', '.', '😀', '\ud800'];
    let mism = 0;
    const rec = (prefix: string, depth: number): void => {
      if (prefix.length > 0) {
        const got = pretokenize(prefix);
        const want = regexSplit(prefix);
        if (got.length !== want.length || got.some((p, i) => p !== want[i])) {
          if (mism++ < 5) expect({ text: prefix, got }).toEqual({ text: prefix, got: want });
        }
      }
      if (depth === 0) return;
      for (const c of alphabet) rec(prefix + c, depth - 1);
    };
    rec('', 6);
    expect(mism).toBe(0);
  });

  test('matches the regex on corpus samples and 30,000 random strings', () => {
    for (const s of fixedSamples()) expect(pretokenize(s)).toEqual(regexSplit(s));
    const rand = seededRandom(7);
    for (let k = 0; k < 30000; k++) {
      const mode = k % 3 === 0 ? 'alphabet' : k % 3 === 1 ? 'codepoints' : 'mixed';
      let s = randomString(rand, 1 + Math.floor(rand() * 40), mode);
      if (k % 10 === 0) s += '\ud83d'; // a lone surrogate at the end
      const got = pretokenize(s);
      const want = regexSplit(s);
      if (got.join('\u0000') !== want.join('\u0000')) expect({ s, got }).toEqual({ s, got: want });
    }
  });

  test('bytes_to_unicode matches GPT-2', () => {
    const t = bytesToUnicode();
    expect(t[32]).toBe('Ġ');
    expect(t[10]).toBe('Ċ');
    expect(t[0x21]).toBe('!');
    expect(t[0xad]).toBe('\u0143');
    expect(new Set(t).size).toBe(256);
    const order = gpt2ByteOrder();
    expect(order.length).toBe(256);
    expect(new Set(order).size).toBe(256);
    expect(order[0]).toBe(0x21);
  });
});
