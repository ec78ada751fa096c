/**
 * Runs the task for one pause: bounded by --task-timeout, never throws, never overlaps.
 *
 * A task that outlives its timeout has its AbortSignal fired and the pause ends without it;
 * JavaScript cannot kill it, so until it settles `busy` stays true and the cycle skips
 * periods rather than starting a second copy.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/options.js';
import { PinetdError } from '../errors.js';
import type { TaskGpio } from '../gpio/types.js';
import { realTimers, type Timers } from '../util/timers.js';
import type { TaskContext, TaskFn } from './types.js';

/** Serialised results go to READ and every subscriber: keep them small. */
export const MAX_RESULT_BYTES = 64 * 1024;

export interface TaskResult {
  readonly ok: boolean;
  readonly durationMs: number;
  /** ISO 8601 time the run finished. */
  readonly at: string;
  readonly value?: unknown;
  readonly error?: { code: string; message: string };
}

export interface RunnerOptions {
  readonly task: TaskFn;
  readonly name: string;
  readonly timeoutMs: number;
  readonly log: Logger;
  readonly gpio?: TaskGpio;
  readonly config: Readonly<Config>;
  readonly timers?: Timers;
  readonly wallClock?: () => Date;
}

export class TaskRunner {
  readonly name: string;
  readonly #opts: RunnerOptions;
  readonly #timers: Timers;
  #inflight: Promise<unknown> | undefined;
  #controller: AbortController | undefined;

  constructor(opts: RunnerOptions) {
    this.#opts = opts;
    this.name = opts.name;
    this.#timers = opts.timers ?? realTimers;
  }

  /** A previous run has not settled yet (it ignored its AbortSignal). */
  get busy(): boolean {
    return this.#inflight !== undefined;
  }

  /** Fire the running task's AbortSignal (forced shutdown). */
  abort(reason = 'daemon stopping'): void {
    this.#controller?.abort(new Error(reason));
  }

  run(): Promise<TaskResult> {
    if (this.#inflight) return Promise.reject(new Error('task runner: a run is already in flight'));
    const { log, timeoutMs } = this.#opts;
    const controller = new AbortController();
    this.#controller = controller;
    const started = this.#timers.now();
    const ctx: TaskContext = {
      log: log.child({ task: this.name }),
      signal: controller.signal,
      config: this.#opts.config,
      ...(this.#opts.gpio ? { gpio: this.#opts.gpio } : {}),
    };
    // Promise.resolve().then: a task that throws synchronously is a failed run, not a crash.
    const running = Promise.resolve().then(() => this.#opts.task(ctx));
    const tracked = running.then(
      () => undefined,
      () => undefined,
    );
    this.#inflight = tracked;
    void tracked.then(() => {
      if (this.#inflight === tracked) this.#inflight = undefined;
    });

    return new Promise<TaskResult>((resolve) => {
      const finish = (ok: boolean, value: unknown, error?: unknown): void => {
        this.#timers.clearTimeout(timer);
        const durationMs = Math.round(this.#timers.now() - started);
        const at = (this.#opts.wallClock?.() ?? new Date()).toISOString();
        if (ok) {
          const checked = checkValue(value);
          if (checked === undefined) return resolve({ ok: true, durationMs, at, value: value ?? null });
          error = checked;
        }
        const err = error instanceof PinetdError ? error : new PinetdError('PINETD_E_TASK_FAILED', `task ${this.name} failed: ${messageOf(error)}`, { cause: error });
        log.warn({ err, task: this.name, durationMs }, 'task failed');
        resolve({ ok: false, durationMs, at, error: { code: err.code, message: err.message } });
      };
      let done = false;
      const timer = this.#timers.setTimeout(() => {
        if (done) return;
        done = true;
        const err = new PinetdError('PINETD_E_TASK_TIMEOUT', `task ${this.name} did not finish within ${timeoutMs}ms`);
        controller.abort(err);
        finish(false, undefined, err);
      }, timeoutMs);
      running.then(
        (value) => {
          if (done) return;
          done = true;
          finish(true, value);
        },
        (err: unknown) => {
          if (done) return;
          done = true;
          finish(false, undefined, err);
        },
      );
    });
  }
}

/** Never throws: a task may reject with anything, even an object without a prototype. */
function messageOf(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    return Object.prototype.toString.call(err);
  }
}

/** undefined when the value can be served, else the reason it cannot. */
function checkValue(value: unknown): Error | undefined {
  let json: string | undefined;
  try {
    json = JSON.stringify(value ?? null);
  } catch (err) {
    return new Error(`result is not JSON-serialisable: ${messageOf(err)}`, { cause: err });
  }
  const bytes = json === undefined ? 0 : Buffer.byteLength(json);
  if (bytes > MAX_RESULT_BYTES) return new Error(`result is ${bytes} bytes, over the ${MAX_RESULT_BYTES}-byte limit`);
  return undefined;
}
