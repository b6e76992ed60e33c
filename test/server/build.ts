/**
 * Worker threads run compiled JavaScript (vitest does not transpile them), so tests that use
 * the real models need dist/ current: `npm ci` builds it; in a work tree this rebuilds it when
 * any file under src/ is newer than the compiled worker (tsc emits even with type errors
 * elsewhere, so a half-finished module of someone else's does not block these tests).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newestMtime(p));
    else if (/\.(ts|css|html)$/.test(e.name)) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

export function ensureBuilt(): void {
  const marker = path.join(ROOT, 'dist/server/worker/inference-worker.js');
  if (existsSync(marker) && statSync(marker).mtimeMs >= newestMtime(path.join(ROOT, 'src'))) return;
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'pipe' });
  } catch {
    // Type errors still emit JavaScript; only a missing output is fatal.
  }
  if (!existsSync(marker)) throw new Error('npm run build did not produce dist/server/worker/inference-worker.js');
}

/** The studio (dist/web), rebuilt with vite when web/ changed. */
export function ensureStudioBuilt(): void {
  ensureBuilt();
  const marker = path.join(ROOT, 'dist/web/index.html');
  const newest = Math.max(newestMtime(path.join(ROOT, 'web/src')), statSync(path.join(ROOT, 'web/index.html')).mtimeMs, statSync(path.join(ROOT, 'web/vite.config.ts')).mtimeMs);
  if (existsSync(marker) && statSync(marker).mtimeMs >= newest) return;
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', path.join(ROOT, 'web/vite.config.ts')], { cwd: ROOT, stdio: 'pipe' });
  if (!existsSync(marker)) throw new Error('vite build did not produce dist/web/index.html');
}
