/**
 * Atomic file writes: the data goes to a temporary file in the target's directory
 * (`.{name}.tmp-{pid}-{random}`), is fsynced, then renamed over the target, and the directory
 * is fsynced (best effort). A reader therefore sees either the old file or the complete new
 * one, never a partial write. On failure the temporary file is removed and the target is left
 * untouched.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

/** What can be written: a string (written as UTF-8), bytes, or a list of byte chunks written in order. */
export type AtomicData = Uint8Array | string | Uint8Array[];

/** The temporary path used for an atomic write of `target`. */
export function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  const base = path.basename(target);
  return path.join(dir, `.${base}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

function chunksOf(data: AtomicData): Uint8Array[] {
  if (typeof data === 'string') return [Buffer.from(data, 'utf8')];
  if (Array.isArray(data)) return data;
  return [data];
}

function fsyncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Best effort: some platforms / file systems cannot fsync a directory.
  } finally {
    if (fd !== undefined) try { fs.closeSync(fd); } catch { /* ignore */ }
  }
}

async function fsyncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch {
    // Best effort.
  } finally {
    if (fh) await fh.close().catch(() => undefined);
  }
}

/**
 * Write `data` to `target` atomically (synchronous). The parent directory must exist.
 * @param target destination path; replaced if it exists.
 * @param data string (UTF-8), bytes, or a list of byte chunks written back to back.
 */
export function writeFileAtomic(target: string, data: AtomicData): void {
  const tmp = tempPathFor(target);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', 0o644);
    for (const chunk of chunksOf(data)) {
      let off = 0;
      while (off < chunk.byteLength) {
        off += fs.writeSync(fd, chunk, off, chunk.byteLength - off);
      }
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
  } catch (err) {
    if (fd !== undefined) try { fs.closeSync(fd); } catch { /* ignore */ }
    try { fs.unlinkSync(tmp); } catch { /* ignore */ }
    throw err;
  }
  fsyncDirSync(path.dirname(target));
}

/** Asynchronous {@link writeFileAtomic}. */
export async function writeFileAtomicAsync(target: string, data: AtomicData): Promise<void> {
  const tmp = tempPathFor(target);
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(tmp, 'wx', 0o644);
    for (const chunk of chunksOf(data)) {
      let off = 0;
      while (off < chunk.byteLength) {
        const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off);
        off += bytesWritten;
      }
    }
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fsp.rename(tmp, target);
  } catch (err) {
    if (fh) await fh.close().catch(() => undefined);
    await fsp.unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fsyncDir(path.dirname(target));
}

/** Write `obj` as pretty-printed JSON (2-space indent, trailing newline) atomically. */
export function writeJsonAtomic(target: string, obj: unknown): void {
  writeFileAtomic(target, JSON.stringify(obj, null, 2) + '\n');
}

/** Asynchronous {@link writeJsonAtomic}. */
export async function writeJsonAtomicAsync(target: string, obj: unknown): Promise<void> {
  await writeFileAtomicAsync(target, JSON.stringify(obj, null, 2) + '\n');
}
