/** Parsers for numeric CLI options that reject bad values with a message naming the option; reading an input file or standard input. */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from 'commander';
import { DataError } from '../errors.js';

/** "between 0 and 1", "> 0" (a minimum of Number.MIN_VALUE means positive), ">= 1", "<= 10". */
function rangeText(min: number, max: number): string {
  const lo = min === Number.MIN_VALUE ? '> 0' : min === -Infinity ? '' : `>= ${min}`;
  const hi = max === Infinity ? '' : `<= ${max}`;
  if (lo && hi) return min === Number.MIN_VALUE ? `> 0 and ${hi}` : `between ${min} and ${max}`;
  return lo || hi;
}

export function intOption(name: string, min = -Infinity, max = Infinity): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`${name} must be an integer, got "${v}"`);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be ${rangeText(min, max)}, got ${n}`);
    return n;
  };
}

export function floatOption(name: string, min = -Infinity, max = Infinity): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got "${v}"`);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be ${rangeText(min, max)}, got ${n}`);
    return n;
  };
}

/** Collects a repeatable option into an array. */
export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** The UTF-8 text of a file, or of standard input for `-`; a DataError naming it if it cannot be read. */
export async function readInput(file: string): Promise<string> {
  try {
    if (file !== '-') return await readFile(file, 'utf8');
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  } catch (e) {
    throw new DataError(`cannot read ${file === '-' ? 'standard input' : file}: ${(e as Error).message}`);
  }
}
