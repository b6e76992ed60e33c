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
