/**
 * Graceful shutdown as an explicit state machine (after Go's http.Server.Shutdown and
 * close-with-grace):
 *
 *   serving --signal--> draining --(no clients | deadline)--> closing --> stopped (exit 0)
 *         any state --second signal--> forced (exit 128+n, no waiting)
 *
 * The deadline is armed before anything else happens, so no later step can make the
 * daemon outlive its grace period (save the in-flight task, bounded by its own timeout).
 */
import { constants } from 'node:os';
import type { Logger } from 'pino';
import { realTimers, type TimerHandle, type Timers } from '../util/timers.js';

export const SHUTDOWN_SIGNALS = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGQUIT'] as const;
export type ShutdownSignal = (typeof SHUTDOWN_SIGNALS)[number];
export type ShutdownState = 'serving' | 'draining' | 'closing' | 'stopped';

export interface ShutdownHooks {
  /** Tell clients SHUTDOWN, refuse new ones, stop the pause cycle, blink the LED... */
  drain(signal: ShutdownSignal, graceMs: number): void;
  /** Once a second during the countdown (the first at the signal). */
  tick(remainingS: number): void;
  /** Resolves when a pause in progress has ended (bounded by the task timeout). */
  settle(): Promise<void>;
  /** Close what is left (connections, server); must not reject. */
  close(): Promise<void>;
  /** Forced path: synchronous teardown, no waiting. */
  forceClose(): void;
  /** Release hardware, flush, leave the process. */
  exit(code: number): void;
}

export interface ShutdownOptions {
  readonly graceMs: number;
  readonly log: Logger;
  readonly hooks: ShutdownHooks;
  readonly timers?: Timers;
  /** Admitted clients right now. */
  readonly clients: () => number;
}

export class Shutdown {
  readonly #opts: ShutdownOptions;
  readonly #timers: Timers;
  #state: ShutdownState = 'serving';
  #deadline: TimerHandle | undefined;
  #tickTimer: TimerHandle | undefined;
  #startedAt = 0;
  #installed: Array<[ShutdownSignal, () => void]> = [];

  constructor(opts: ShutdownOptions) {
    this.#opts = opts;
    this.#timers = opts.timers ?? realTimers;
  }

  get state(): ShutdownState {
    return this.#state;
  }

  install(target: NodeJS.EventEmitter = process): void {
    for (const signal of SHUTDOWN_SIGNALS) {
      const handler = (): void => this.signal(signal);
      target.on(signal, handler);
      this.#installed.push([signal, handler]);
    }
  }

  uninstall(target: NodeJS.EventEmitter = process): void {
    for (const [signal, handler] of this.#installed) target.off(signal, handler);
    this.#installed = [];
  }

  signal(signal: ShutdownSignal): void {
    if (this.#state === 'serving') this.#begin(signal);
    else if (this.#state !== 'stopped') this.#force(signal);
  }

  /** Call whenever the client count changes: the last client leaving ends the countdown. */
  clientsChanged(): void {
    if (this.#state === 'draining' && this.#opts.clients() === 0) void this.#finish('no clients left');
  }

  #begin(signal: ShutdownSignal): void {
    const { graceMs, log, hooks } = this.#opts;
    this.#state = 'draining';
    this.#startedAt = this.#timers.now();
    this.#deadline = this.#timers.setTimeout(() => void this.#finish('grace period over'), graceMs);
    log.info({ signal, graceMs }, 'shutdown signal received: draining');
    hooks.drain(signal, graceMs);
    if (graceMs > 0) this.#tick(0);
    if (this.#opts.clients() === 0 || graceMs === 0) void this.#finish(graceMs === 0 ? 'no grace period' : 'no clients left');
  }

  #tick(n: number): void {
    if (this.#state !== 'draining') return;
    const remainingS = Math.ceil((this.#opts.graceMs - n * 1000) / 1000);
    if (remainingS <= 0) return;
    this.#opts.log.info({ remainingS }, 'shutting down');
    this.#opts.hooks.tick(remainingS);
    // Anchored to the signal time: one line a second without drift.
    const next = this.#startedAt + (n + 1) * 1000 - this.#timers.now();
    this.#tickTimer = this.#timers.setTimeout(() => this.#tick(n + 1), Math.max(0, next));
  }

  async #finish(reason: string): Promise<void> {
    if (this.#state !== 'draining') return;
    this.#state = 'closing';
    this.#timers.clearTimeout(this.#tickTimer);
    this.#timers.clearTimeout(this.#deadline);
    const { log, hooks } = this.#opts;
    log.info({ reason, clients: this.#opts.clients() }, 'closing');
    await hooks.settle();
    if (this.#state !== 'closing') return; // forced meanwhile
    await hooks.close();
    if (this.#state !== 'closing') return;
    this.#state = 'stopped';
    log.info({ exitCode: 0 }, 'stopped');
    hooks.exit(0);
  }

  #force(signal: ShutdownSignal): void {
    const code = 128 + constants.signals[signal];
    this.#state = 'stopped';
    this.#timers.clearTimeout(this.#tickTimer);
    this.#timers.clearTimeout(this.#deadline);
    this.#opts.log.warn({ signal, exitCode: code }, 'second signal: forcing exit');
    this.#opts.hooks.forceClose();
    this.#opts.log.info({ exitCode: code }, 'stopped');
    this.#opts.hooks.exit(code);
  }
}
