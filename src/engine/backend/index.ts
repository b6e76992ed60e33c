/**
 * Backend selection. `AIGC_BACKEND=ts|native` chooses; by default the native addon is used
 * when it loads, and otherwise the TypeScript backend, with a one-line warning on stderr.
 */
import { tsBackend } from './ts.js';
import type { Backend } from './types.js';
import { loadNativeBackend } from './native.js';

export type { Backend, ConvGeometry } from './types.js';
export { tsBackend } from './ts.js';

let nativeCache: Backend | Error | undefined;

/** The native backend, or the Error that explains why it cannot load. */
export function tryNativeBackend(): Backend | Error {
  if (nativeCache === undefined) {
    try {
      nativeCache = loadNativeBackend();
    } catch (e) {
      nativeCache = e instanceof Error ? e : new Error(String(e));
    }
  }
  return nativeCache;
}

function pickDefault(): Backend {
  const want = process.env.AIGC_BACKEND;
  if (want === 'ts') return tsBackend;
  if (want !== undefined && want !== '' && want !== 'native') {
    throw new Error(`AIGC_BACKEND must be "ts" or "native", got "${want}"`);
  }
  const native = tryNativeBackend();
  if (native instanceof Error) {
    if (want === 'native') throw new Error(`AIGC_BACKEND=native but the native addon cannot load: ${native.message}`);
    process.stderr.write(`aigc: native kernels unavailable (${native.message.split('\n')[0]}); using the slower TypeScript backend\n`);
    return tsBackend;
  }
  return native;
}

let current: Backend | undefined;

/** The backend every op uses. */
export function backend(): Backend {
  return (current ??= pickDefault());
}

/** Switch backends (tests compare both; benchmarks report each). */
export function setBackend(b: Backend | 'ts' | 'native'): Backend {
  if (b === 'ts') current = tsBackend;
  else if (b === 'native') {
    const n = tryNativeBackend();
    if (n instanceof Error) throw n;
    current = n;
  } else current = b;
  return current;
}
