/** Parsers for numeric CLI options that reject bad values with a message naming the option. */
import { InvalidArgumentError } from 'commander';

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
