import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type RunningServer, type ServeOptions } from '../../src/server/index.js';

export function tempDir(prefix = 'aigc-server-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function withServer(opts: ServeOptions): Promise<RunningServer> {
  return startServer({ host: '127.0.0.1', port: 0, log: () => {}, env: {}, ...opts });
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Reads an SSE response into its `data:` payloads. */
export async function readSse(res: Response): Promise<string[]> {
  const text = await res.text();
  return text.split('\n\n').filter((b) => b.trim()).flatMap((b) => b.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)));
}

export const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body),
});

/** Runs `aigc serve` (the compiled CLI) in its own process; resolves once it listens. */
export async function spawnServe(args: string[], env: Record<string, string> = {}): Promise<{ url: string; stop(): Promise<void>; stderr(): string }> {
  const { spawn } = await import('node:child_process');
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
  const child = spawn(process.execPath, [path.join(root, 'bin/aigc.js'), 'serve', '--port', '0', ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`aigc serve did not start in 120 s:\n${err}`)), 120_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`aigc serve exited with ${code}:\n${err}`)); });
  });
  return {
    url,
    stderr: () => err,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) { resolve(); return; }
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    }),
  };
}
