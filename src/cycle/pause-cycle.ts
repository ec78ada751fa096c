/**
 * The fixed-rate pause schedule: the n-th pause starts at start + n·period (no drift), a
 * late start skips missed slots instead of bunching them, a pause never overlaps the last
 * one, and a period whose previous task is still running is skipped and logged.
 *
 * The cycle only decides *when*; what a pause does (hold clients, run the task, resume) is
 * the injected `pause` function, so the schedule is tested with fake timers alone.
 *
 * On time under load: Node runs timers only between rounds of I/O callbacks, so with 256
 * busy connections a pause's timer fired 7-10 ms late (p99, measured). The TCP outlet
 * therefore reports each read (`checkDue`), and the first read after the due time starts
 * the pause at once; the timer still starts it when nothing is read.
 */
import type { Logger } from 'pino';
import { realTimers, type TimerHandle, type Timers } from '../util/timers.js';

/** When a pause was due and how late its timer fired (the jitter the benchmark reports). */
export interface PauseSlot {
  readonly scheduledAt: number;
  readonly lateMs: number;
}

export interface PauseCycleOptions {
  readonly periodMs: number;
  readonly log: Logger;
  readonly timers?: Timers;
  /** The previous task has not settled: this period must be skipped. */
  readonly busy: () => boolean;
  /** One pause, start to resume. Must not reject. */
  readonly pause: (slot: PauseSlot) => Promise<void>;
  /** Periods skipped (late timer, or the previous task still running); the hub counts them. */
  readonly onSkip?: (count: number) => void;
}

export class PauseCycle {
  readonly #opts: PauseCycleOptions;
  readonly #timers: Timers;
  #start = 0;
  #slot = 0;
  #timer: TimerHandle | undefined;
  /** When the armed pause is due (Infinity: none is armed). */
  #dueAt = Infinity;
  #current: Promise<void> | undefined;
  #stopped = true;

  constructor(opts: PauseCycleOptions) {
    this.#opts = opts;
    this.#timers = opts.timers ?? realTimers;
  }

  /** A pause is in progress. */
  get active(): boolean {
    return this.#current !== undefined;
  }

  /** Anchors the schedule now: the first pause comes one period later. No-op for period 0. */
  start(): void {
    if (this.#opts.periodMs <= 0 || !this.#stopped) return;
    this.#stopped = false;
    this.#start = this.#timers.now();
    this.#slot = 0;
    this.#schedule();
  }

  /**
   * Something was read at `now` (a clock reading the caller already has): a pause that is
   * due starts now instead of waiting for its timer. One comparison when none is due.
   */
  checkDue(now: number): void {
    if (now >= this.#dueAt) this.#tick();
  }

  /** No new pauses; resolves when a pause in progress (if any) has ended. Idempotent. */
  stop(): Promise<void> {
    this.#stopped = true;
    this.#disarm();
    return this.#current ?? Promise.resolve();
  }

  #disarm(): void {
    this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#dueAt = Infinity;
  }

  #schedule(): void {
    if (this.#stopped) return;
    const { periodMs, log } = this.#opts;
    const now = this.#timers.now();
    // The next slot strictly after the last one and not in the past: late means skip.
    const due = Math.max(this.#slot + 1, Math.floor((now - this.#start) / periodMs) + 1);
    const missed = due - this.#slot - 1;
    if (missed > 0 && this.#slot > 0) {
      this.#opts.onSkip?.(missed);
      log.warn({ missed, periodMs }, 'pause cycle running late: skipping missed periods');
    }
    this.#slot = due;
    this.#dueAt = this.#start + due * periodMs;
    this.#timer = this.#timers.setTimeout(this.#tick, this.#dueAt - now);
  }

  /** The armed pause is due: from its timer, or from checkDue, whichever comes first. */
  #tick = (): void => {
    this.#disarm();
    if (this.#stopped) return;
    if (this.#opts.busy()) {
      this.#opts.onSkip?.(1);
      this.#opts.log.warn({ slot: this.#slot }, 'previous task still running: skipping this pause');
      this.#schedule();
      return;
    }
    const scheduledAt = this.#start + this.#slot * this.#opts.periodMs;
    const current = this.#opts.pause({ scheduledAt, lateMs: Math.max(0, this.#timers.now() - scheduledAt) }).finally(() => {
      this.#current = undefined;
      this.#schedule();
    });
    this.#current = current;
  };
}
