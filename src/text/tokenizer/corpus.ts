/**
 * A varied, deterministic text corpus for tokenizer tests and benchmarks: English prose,
 * contractions, white space runs, numbers, code, many scripts, emoji sequences, combining
 * marks, unusual code points, and seeded random strings.
 */

/** Small seeded PRNG (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const PROSE: string[] = [
  'The quick brown fox jumps over the lazy dog.',
  'It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness.',
  'Call me Ishmael. Some years ago—never mind how long precisely—having little or no money in my purse, and nothing particular to interest me on shore, I thought I would sail about a little and see the watery part of the world.',
  'In a hole in the ground there lived a hobbit. Not a nasty, dirty, wet hole, filled with the ends of worms and an oozy smell.',
  '"Well," said he, "I\'ve never seen anything like it; you\'re sure it\'s real?" She didn\'t answer.',
  "Don't stop. I'LL be there. We'Re ready. You'VE got it. They'd've known. 'Tis the season. Rock 'n' roll.",
  "don't won't can't shouldn't I'm you're we've they'll he'd she's it's o'clock y'all ma'am 'twas",
  "'s 't 're 've 'm 'll 'd ''s '''' ' s ' t",
  'Mr. Smith paid $1,234.56 on 2024-03-15 at 10:45pm for 3.14159 kg of 42nd-street apples (ID #A7-99).',
  'Numbers: 0 1 12 123 1234 12345 123456 1234567 3.0e-10 -42 +7 0x1F 0b1010 1_000_000 ½ ¾ ² ³ Ⅻ ٣ ४२ 五',
  'E-mail: someone@example.com, URL: https://example.org/path?q=1&r=two#frag, path C:\\Users\\me\\file.txt',
  'Ünïcödé façade naïve café résumé coöperate jalapeño Straße Œuvre Ångström',
];

export const WHITESPACE: string[] = [
  ' ', '  ', '   ', '    ', '\t', '\t\t', '\n', '\n\n', '\n\n\n', '\r\n', '\r\n\r\n', ' \n', '\n ', ' \t ',
  'a b', 'a  b', 'a   b', 'a \tb', 'a\t b', 'a\n\nb', 'a \n b', 'trailing   ', '   leading', 'mid   dle  ',
  'line one\r\nline two\r\n', 'tabs\tand\tspaces  mixed \t\n end', '\u00a0nbsp\u00a0 and\u2003em\u3000ideographic\u2028ls\u2029ps\ufeffbom',
  '\v\f vertical \f form', ' ', '\u0085nel\u180emongolian\u200bzwsp',
];

export const CODE: string[] = [
  `function add(a, b) {\n  return a + b;\n}\n\nconsole.log(add(1, 2)); // 3\n`,
  `export async function* gen(): AsyncGenerator<number> {\n    for (let i = 0; i < 10; i++) {\n        yield i ** 2;\n    }\n}\n`,
  `def fib(n):\n    """Return the n-th Fibonacci number."""\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\nif __name__ == "__main__":\n    print(fib(10))\n`,
  `#include <stdio.h>\nint main(void) {\n\tprintf("Hello, %s!\\n", "world");\n\treturn 0;\n}\n`,
  `const re = /'s|'t|\\s+(?!\\S)/gu; const x = {a: [1, 2, {b: null}], 'c': "d"};\n  \n\t\n`,
  `SELECT id, name FROM users WHERE age >= 18 AND name LIKE '%son' ORDER BY id DESC;`,
  `<div class="x" id='y'>&amp; &lt;tag&gt; &#x1F600;</div>\n<!-- comment -->`,
  `    if (x !== undefined && x?.y ?? z) { return !!(a || b) && c >>> 2 <= d; }`,
];

export const SCRIPTS: string[] = [
  '你好，世界！这是一个测试。我们正在测试分词器。机器学习和人工智能。',
  '日本語のテキスト：ひらがな、カタカナ、漢字。東京は日本の首都です。',
  '한국어 텍스트입니다. 안녕하세요! 반갑습니다.',
  'مرحبا بالعالم! هذا اختبار للنص العربي مع التشكيل: بِسْمِ اللَّهِ الرَّحْمَٰنِ الرَّحِيمِ',
  'नमस्ते दुनिया! यह हिन्दी पाठ है। क्षत्रिय, ज्ञान, श्री, द्विवेदी।',
  'Привет, мир! Съешь же ещё этих мягких французских булок, да выпей чаю.',
  'Γειά σου Κόσμε! Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.',
  'שלום עולם! זהו טקסט בעברית.',
  'สวัสดีชาวโลก ภาษาไทยไม่มีการเว้นวรรค',
  'ሰላም ዓለም! ქართული ენა. Հայերեն լեզու. ᚠᚢᚦᚨᚱᚲ. ꦗꦮ. 𐌰𐌱𐌲 gothic. 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕞𝕒𝕥𝕙 𝟙𝟚𝟛',
  'Tiếng Việt có dấu: Đường phố Hà Nội rất đông đúc.',
];

export const EMOJI: string[] = [
  '😀😃😄😁😆😅🤣😂🙂🙃😉😊😇',
  'Family: 👨‍👩‍👧‍👦 couple: 👩‍❤️‍💋‍👨 rainbow flag: 🏳️‍🌈 pirate: 🏴‍☠️',
  'Flags: 🇺🇸🇬🇧🇯🇵🇩🇪🇫🇷🇮🇳🇧🇷 🏴󠁧󠁢󠁳󠁣󠁴󠁿',
  'Skin tones: 👍🏻👍🏼👍🏽👍🏾👍🏿 👋🏽 🧑🏿‍💻 👩🏻‍🔬',
  'Keycaps: 1️⃣ 2️⃣ #️⃣ *️⃣ ©️ ®️ ™️ ❤️ ✔️',
  'I ❤️ 🍕 and 🍣! Do you? 🤔 ... 🚀🌕✨',
];

export const UNUSUAL: string[] = [
  'e\u0301 a\u0300\u0301\u0302 Z\u0351\u0352\u0353a\u0354\u0355l\u0356g\u0357o \u0e01\u0e34\u0e4a',
  'Zalgo: Z̴̡̢̛͖̠̙̥̫̝͓̫̹̞͓̹̙̖̒̿̈́̃̆̌̚ą̸̧̛̛̟̩̦̳͙͔̜͈͍͓͍̈́̈́̊̈̾̉̈́̓̄͋̂̕͝l̴',
  '\ufffd\ufffd replacement \ufffd',
  '\u0000\u0001\u0007\u001b[31mred\u001b[0m\u007f',
  '\u200d\u200c\u200e\u200f\u202a\u202e\u2066\u2069',
  '\ue000\uf8ff private use \u{f0000}\u{10fffd}',
  '\u{1d400}\u{1d401} \u{1f170} \u{20000}\u{2a6d6} \u{e0001}\u{e0020}',
  '¡¿«»‹›„“”‘’‚–—…•·¶§†‡‰′″‴‵ⁿ₀₁ℕℝ∀∂∃∅∇∈∉∑∏√∞∫≈≠≤≥⊂⊃⊆⊇⊕⊗',
  'ﬁ ﬂ ﬀ Ⅳ ⅳ ① ⑴ ⒈ ㊀ ㈠ ＡＢＣ１２３ ｶﾀｶﾅ',
  "''' '' ' '' 's's 'S 'T 'RE 'll'll'll",
];

/** Interesting characters for random strings (ASCII biased, plus the tricky ones). */
const RANDOM_ALPHABET = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  ...' \t\n\r\'"!?.,;:-_()[]{}<>/\\|@#$%^&*+=~`',
  "'", "'", ' ', ' ', ' ', 's', 't', 'r', 'e', 'v', 'l', 'm', 'd',
  '\u00a0', '\u2003', '\u3000', '\u0301', '\u0308', 'é', 'ß', 'Ω', 'ж', '中', '文', 'あ', 'ア', '한', 'ع', 'क', '्',
  '٣', '½', '²', 'Ⅻ', '😀', '👍', '🏽', '\u200d', '❤', '\ufe0f', '🇺', '🇸', '\ufffd', '\u{10348}', '\u{1d7d9}',
];

/** A random code point from all planes (no surrogates). */
function randomCodePoint(rand: () => number): number {
  const r = rand();
  let cp: number;
  if (r < 0.3) cp = Math.floor(rand() * 0x80);
  else if (r < 0.6) cp = Math.floor(rand() * 0x800);
  else if (r < 0.9) cp = Math.floor(rand() * 0x10000);
  else cp = 0x10000 + Math.floor(rand() * 0x100000);
  if (cp >= 0xd800 && cp <= 0xdfff) cp -= 0x800;
  return cp;
}

/** Random string of `len` code points; `mode` 'alphabet' draws from the tricky alphabet, 'codepoints' from all of Unicode. */
export function randomString(rand: () => number, len: number, mode: 'alphabet' | 'codepoints' | 'mixed'): string {
  let s = '';
  for (let i = 0; i < len; i++) {
    const useAlpha = mode === 'alphabet' || (mode === 'mixed' && rand() < 0.7);
    s += useAlpha ? RANDOM_ALPHABET[Math.floor(rand() * RANDOM_ALPHABET.length)]! : String.fromCodePoint(randomCodePoint(rand));
  }
  return s;
}

/** The fixed samples of every category. */
export function fixedSamples(): string[] {
  return [...PROSE, ...WHITESPACE, ...CODE, ...SCRIPTS, ...EMOJI, ...UNUSUAL];
}

/**
 * Roughly `bytes` bytes of mixed text built deterministically from the corpus (prose-heavy, like
 * real text, with code, other scripts, emoji and some random strings mixed in).
 */
export function mixedText(bytes: number, seed = 1): string {
  const rand = seededRandom(seed);
  const groups: Array<[number, string[]]> = [
    [0.45, PROSE], [0.15, CODE], [0.15, SCRIPTS], [0.07, EMOJI], [0.08, WHITESPACE], [0.05, UNUSUAL],
  ];
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const r = rand();
    let acc = 0;
    let piece: string | undefined;
    for (const [p, list] of groups) {
      acc += p;
      if (r < acc) { piece = list[Math.floor(rand() * list.length)]!; break; }
    }
    piece ??= randomString(rand, 5 + Math.floor(rand() * 30), 'mixed');
    const sep = rand() < 0.2 ? '\n\n' : rand() < 0.5 ? '\n' : ' ';
    parts.push(piece, sep);
    size += Buffer.byteLength(piece) + sep.length;
  }
  return parts.join('');
}
