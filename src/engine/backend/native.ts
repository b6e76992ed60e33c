/** Loads the C++ addon (native/) built by node-gyp at install time. Placeholder until the addon lands. */
import type { Backend } from './types.js';

export function loadNativeBackend(): Backend {
  throw new Error('native addon not built yet');
}
