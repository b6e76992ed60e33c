/** PNG tEXt metadata: inserted after IHDR so downloads carry their prompt, seed, class and model. */

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function isPng(buf: Uint8Array): boolean {
  return buf.length > 8 && Buffer.from(buf.subarray(0, 8)).equals(SIGNATURE);
}

function textChunk(keyword: string, text: string): Buffer {
  // tEXt is Latin-1; anything else is replaced (the full values are in the database too).
  const data = Buffer.from(`${keyword}\0${text.replace(/[^\x20-\x7e\n]/g, '?')}`, 'latin1');
  const type = Buffer.from('tEXt', 'latin1');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([type, data])));
  return Buffer.concat([len, type, data, crc]);
}

export function withPngText(png: Buffer, entries: Record<string, string>): Buffer {
  if (!isPng(png)) return png;
  const ihdrLen = png.readUInt32BE(8);
  const afterIhdr = 8 + 8 + ihdrLen + 4;
  const chunks = Object.entries(entries).map(([k, v]) => textChunk(k, v));
  return Buffer.concat([png.subarray(0, afterIhdr), ...chunks, png.subarray(afterIhdr)]);
}

/** Reads tEXt chunks back (tests, and the studio's download check). */
export function readPngText(png: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let off = 8;
  while (off + 8 <= png.length) {
    const len = png.readUInt32BE(off);
    const type = png.toString('latin1', off + 4, off + 8);
    if (type === 'tEXt') {
      const data = png.toString('latin1', off + 8, off + 8 + len);
      const z = data.indexOf('\0');
      out[data.slice(0, z)] = data.slice(z + 1);
    }
    if (type === 'IEND') break;
    off += 12 + len;
  }
  return out;
}
