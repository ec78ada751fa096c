/**
 * --state-dir at startup: the directory must exist and be writable (else exit 78 with the
 * path and the fix: under systemd a bad state dir must fail once, not restart in a loop),
 * then the saved store and history are loaded. A file that cannot be decoded is renamed
 * aside (`kv.json.corrupt-<timestamp>`), logged as an error, and the daemon starts without
 * it: a corrupt file must not become a crash loop.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { PinetdError } from '../errors.js';
import type { Reading } from '../hub/history.js';
import type { KvStore } from '../protocol/store.js';
import { moveAside, readJsonFile, removeStaleTemps } from './atomic-file.js';
import { decodeHistory, decodeKv, HISTORY_FILE, KV_FILE, type Decoded } from './state-format.js';

/** Far above what the 8 MiB store and 8 MiB history can serialise to, JSON escapes included. */
const MAX_STATE_FILE_BYTES = 64 * 1024 * 1024;

function stateDirError(dir: string, why: string, cause?: unknown): PinetdError {
  const fix = `create it and make it writable for the daemon's user (under systemd: StateDirectory=pinetd, with --state-dir /var/lib/pinetd)`;
  return new PinetdError('PINETD_E_STATE_DIR', `state directory ${dir} ${why}; ${fix}`, cause === undefined ? undefined : { cause });
}

export function checkStateDir(dir: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw stateDirError(dir, code === 'ENOENT' || code === 'ENOTDIR' ? 'does not exist' : `cannot be used (${code ?? String(err)})`, err);
  }
  if (!isDir) throw stateDirError(dir, 'is not a directory');
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw stateDirError(dir, `is not writable (${(err as NodeJS.ErrnoException).code ?? String(err)})`, err);
  }
}

function load<T>(dir: string, file: string, decode: (data: unknown) => Decoded<T>, log: Logger, now: Date): T | undefined {
  const path = join(dir, file);
  removeStaleTemps(path);
  let read;
  try {
    read = readJsonFile(path, MAX_STATE_FILE_BYTES);
  } catch (err) {
    throw stateDirError(dir, `has a ${file} that cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`, err);
  }
  if (read.kind === 'missing') return undefined;
  const decoded = read.kind === 'ok' ? decode(read.data) : { ok: false as const, reason: read.reason };
  if (decoded.ok) return decoded.value;
  const movedTo = moveAside(path, now);
  const err = new PinetdError('PINETD_E_STATE_CORRUPT', `${path} cannot be loaded: ${decoded.reason}`);
  log.error({ err, path, movedTo }, 'state file cannot be loaded: moved aside, starting without it');
  return undefined;
}

/** Checks the directory, fills the store from kv.json, returns the saved history (oldest first). */
export function loadState(dir: string, store: KvStore, log: Logger, now = new Date()): { history: Reading[] } {
  checkStateDir(dir);
  const pairs = load(dir, KV_FILE, decodeKv, log, now) ?? [];
  let loaded = 0;
  for (const [key, value] of pairs) {
    if (!store.set(key, value)) {
      log.warn({ loaded, saved: pairs.length }, 'saved store is over the key or byte budget: the rest is not loaded');
      break;
    }
    loaded += 1;
  }
  const history = load(dir, HISTORY_FILE, decodeHistory, log, now) ?? [];
  log.info({ dir, keys: loaded, history: history.length }, 'state loaded');
  return { history };
}
