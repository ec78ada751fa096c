/**
 * Files that are either the old version or the new one, never torn: write a temporary file
 * in the same directory, fsync it, rename it over the target, fsync the directory (so the
 * rename itself survives a power cut). Asynchronous for the periodic flushes (the event loop
 * never waits for the SD card); synchronous only for the final write of a forced exit.
 *
 * The rename of an asynchronous write is issued synchronously, after `mayCommit()` says yes:
 * a rename queued on libuv's thread pool could otherwise land after the forced exit's own
 * synchronous write and put older data back. A rename is a metadata operation, not a flush.
 */
// node:fs's `promises`, read where used: in the bundle fs/promises then loads at first use, not at start-up (~2 ms).
import { closeSync, fsyncSync, openSync, promises as fsp, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

let sequence = 0;

function tempName(path: string): string {
  sequence += 1;
  return `${path}.tmp-${process.pid}-${sequence}`;
}

function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `data` to `path` atomically. Resolves false (and leaves `path` alone) when mayCommit() says no. */
export async function writeAtomic(path: string, data: string, mayCommit: () => boolean = () => true): Promise<boolean> {
  const tmp = tempName(path);
  const file = await fsp.open(tmp, 'wx', 0o600);
  try {
    await file.writeFile(data, 'utf8');
    await file.sync();
  } finally {
    await file.close();
  }
  if (!mayCommit()) {
    await fsp.unlink(tmp).catch(() => {});
    return false;
  }
  try {
    renameSync(tmp, path);
  } catch (err) {
    await fsp.unlink(tmp).catch(() => {});
    throw err;
  }
  const dir = await fsp.open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return true;
}

/** The same, blocking: only for the last write before a forced exit. */
export function writeAtomicSync(path: string, data: string): void {
  const tmp = tempName(path);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    const bytes = Buffer.from(data, 'utf8');
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDirSync(dirname(path));
}

export type ReadResult = { kind: 'missing' } | { kind: 'ok'; data: unknown } | { kind: 'corrupt'; reason: string };

/** Reads and parses a JSON file (startup only). A read error other than ENOENT is thrown. */
export function readJsonFile(path: string, maxBytes: number): ReadResult {
  let text: string;
  try {
    if (statSync(path).size > maxBytes) return { kind: 'corrupt', reason: `larger than ${maxBytes} bytes` };
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw err;
  }
  try {
    return { kind: 'ok', data: JSON.parse(text) as unknown };
  } catch (err) {
    return { kind: 'corrupt', reason: (err as Error).message };
  }
}

/** Renames a file that cannot be used to `<name>.corrupt-<timestamp>`; returns the new path. */
export function moveAside(path: string, now: Date): string {
  const aside = `${path}.corrupt-${now.toISOString().replace(/:/g, '-')}`;
  renameSync(path, aside);
  return aside;
}

/** Temporary files left by a process that was killed mid-write. */
export function removeStaleTemps(path: string): void {
  const prefix = `${basename(path)}.tmp-`;
  for (const name of readdirSync(dirname(path))) {
    if (name.startsWith(prefix)) {
      try {
        unlinkSync(join(dirname(path), name));
      } catch {
        // gone already, or not ours to remove
      }
    }
  }
}
