/**
 * Saving the state while running: the store is written to kv.json at most once per
 * --store-flush after it changed (an SD card must not get one write per SET), asynchronously
 * and atomically (atomic-file.ts). SET answers OK before its write — like Redis's
 * `appendfsync everysec`, a power cut loses at most about one flush interval of acknowledged
 * writes, never a torn file. At shutdown the store and the reading history are written once
 * more: `close()` asynchronously after the outlets have closed, `closeSync()` synchronously
 * on a forced exit or a crash, the one place the event loop waits for the disk.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { PinetdError } from '../errors.js';
import type { History } from '../hub/history.js';
import { rateLimited, type RateLimitedLog } from '../log/rate-limit.js';
import type { KvStore } from '../protocol/store.js';
import type { TimerHandle, Timers } from '../util/timers.js';
import { writeAtomic, writeAtomicSync } from './atomic-file.js';
import { encodeHistory, encodeKv, HISTORY_FILE, KV_FILE } from './state-format.js';

export interface PersistenceOptions {
  readonly dir: string;
  readonly store: KvStore;
  readonly history: History;
  readonly flushMs: number;
  readonly log: Logger;
  readonly timers: Timers;
}

export class StatePersistence {
  readonly #opts: PersistenceOptions;
  readonly #kvPath: string;
  readonly #historyPath: string;
  readonly #writeFailed: RateLimitedLog;
  #savedKv: number;
  #savedHistory: number;
  #timer: TimerHandle | undefined;
  #writing: Promise<void> | undefined;
  #lastWriteAt = -Infinity;
  /** close() began: no more scheduled flushes. */
  #closing = false;
  /** closeSync() ran: no asynchronous write may rename over its file any more. */
  #final = false;

  constructor(opts: PersistenceOptions) {
    this.#opts = opts;
    this.#kvPath = join(opts.dir, KV_FILE);
    this.#historyPath = join(opts.dir, HISTORY_FILE);
    this.#writeFailed = rateLimited(opts.log, 'warn', { timers: opts.timers });
    // What was loaded is what is on disk.
    this.#savedKv = opts.store.version;
    this.#savedHistory = opts.history.version;
    opts.store.onChange(this.#changed);
  }

  /** Graceful shutdown: waits for a write under way, then saves what is not saved yet. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#opts.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#writing;
    if (this.#final) return;
    await this.#write(this.#kvPath, this.#opts.store.version, this.#savedKv, () => encodeKv(this.#opts.store, new Date()), (v) => (this.#savedKv = v));
    await this.#write(this.#historyPath, this.#opts.history.version, this.#savedHistory, () => encodeHistory(this.#opts.history, new Date()), (v) => (this.#savedHistory = v));
  }

  /** Forced exit or crash: one synchronous write of what is not saved yet. Idempotent. */
  closeSync(): void {
    if (this.#final) return;
    this.#final = true;
    this.#closing = true;
    this.#opts.timers.clearTimeout(this.#timer);
    const { store, history, log } = this.#opts;
    try {
      if (store.version !== this.#savedKv) writeAtomicSync(this.#kvPath, encodeKv(store, new Date()));
      if (history.version !== this.#savedHistory) writeAtomicSync(this.#historyPath, encodeHistory(history, new Date()));
    } catch (err) {
      log.error({ err: new PinetdError('PINETD_E_STATE_WRITE', `cannot save the state in ${this.#opts.dir}`, { cause: err }) }, 'final state write failed');
    }
  }

  #changed = (): void => {
    if (this.#timer !== undefined || this.#writing !== undefined || this.#closing) return;
    this.#schedule();
  };

  /** The next flush: one interval after the previous write began, at the earliest. */
  #schedule(): void {
    const delay = Math.max(0, this.#lastWriteAt + this.#opts.flushMs - this.#opts.timers.now());
    this.#timer = this.#opts.timers.setTimeout(this.#flush, delay);
    this.#timer.unref();
  }

  #flush = (): void => {
    this.#timer = undefined;
    if (this.#closing) return;
    this.#lastWriteAt = this.#opts.timers.now();
    const store = this.#opts.store;
    this.#writing = this.#write(this.#kvPath, store.version, this.#savedKv, () => encodeKv(store, new Date()), (v) => (this.#savedKv = v)).finally(() => {
      this.#writing = undefined;
      if (!this.#closing && store.version !== this.#savedKv) this.#schedule();
    });
  };

  /** Writes one file if `version` moved past `saved`; failures are logged, retried next flush. */
  async #write(path: string, version: number, saved: number, encode: () => string, onSaved: (v: number) => void): Promise<void> {
    if (version === saved) return;
    const started = this.#opts.timers.now();
    try {
      if (await writeAtomic(path, encode(), () => !this.#final)) {
        onSaved(version);
        this.#opts.log.debug({ path, ms: Math.round(this.#opts.timers.now() - started) }, 'state written');
      }
    } catch (err) {
      this.#writeFailed({ err: new PinetdError('PINETD_E_STATE_WRITE', `cannot write ${path}`, { cause: err }) }, 'state write failed; retrying at the next flush');
    }
  }
}
