import { describe, expect, it } from 'vitest';
import { parseLabel } from '../../src/server/prompt.js';
import { readPngText, withPngText } from '../../src/server/png.js';
import sharp from 'sharp';

describe('parseLabel', () => {
  const digits = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
  it.each([
    ['a handwritten seven', '7'], ['digit 3 please', '3'], ['class: 5', '5'], ['label=nine', '9'], ['a cat', null], ['number 12', null],
    ['Eight, then 2', '8'],
  ])('%s → %s', (prompt, want) => {
    expect(parseLabel(prompt, digits)).toBe(want);
  });
  it('matches multi-word class names as whole words', () => {
    const fashion = ['T-shirt/top', 'Trouser', 'Ankle boot'];
    expect(parseLabel('an ankle boot in the rain', fashion)).toBe('Ankle boot');
    expect(parseLabel('trousers', fashion)).toBeNull();
    expect(parseLabel('a t-shirt/top', fashion)).toBe('T-shirt/top');
  });
});

describe('PNG metadata', () => {
  it('adds tEXt chunks that decoders accept and read back', async () => {
    const png = await sharp(Buffer.alloc(16, 128), { raw: { width: 4, height: 4, channels: 1 } }).png().toBuffer();
    const tagged = withPngText(png, { Description: 'a seven', 'aigc:parameters': '{"seed":1}' });
    expect(readPngText(tagged)).toMatchObject({ Description: 'a seven', 'aigc:parameters': '{"seed":1}' });
    const meta = await sharp(tagged).metadata();
    expect(meta.width).toBe(4);
    expect((await sharp(tagged).raw().toBuffer()).equals(await sharp(png).raw().toBuffer())).toBe(true);
  });
});
