/**
 * The idle timeout of one connection: it is closed after `timeoutMs` without a read. Lazy
 * like the line clock: a read only stamps a time (`touch`, on the hot path), the timer
 * re-arms itself for the remainder when it fires. Time held by a pause does not count, and
 * a subscriber, silent by design while it waits for pushes, never times out (TCP keepalive
 * catches dead peers).
 *
 * A pause stops the clock but leaves its timer armed: releasing 1000 held connections then
 * costs no timer work (the release is the pause's critical path), except for the few whose
 * timer came due during the pause; start() arms those for exactly what is left.
 */
import type { TimerHandle, Timers } from '../../util/timers.js';

export class IdleClock {
  readonly #timeoutMs: number;
  readonly #timers: Timers;
  readonly #onIdle: (silentMs: number) => void;
  readonly #exempt: () => boolean;
  #lastActivity: number;
  /** When the clock was stopped (-1: it runs). */
  #stoppedAt = -1;
  #timer: TimerHandle | undefined;

  /** timeoutMs 0 disables it. `exempt`: asked when the timer fires (a subscriber). Starts stopped. */
  constructor(timeoutMs: number, timers: Timers, onIdle: (silentMs: number) => void, exempt: () => boolean) {
    this.#timeoutMs = timeoutMs;
    this.#timers = timers;
    this.#onIdle = onIdle;
    this.#exempt = exempt;
    this.#lastActivity = timers.now();
    this.#stoppedAt = this.#lastActivity;
  }

  /** The last read, for the line clock: when an unterminated line's first byte came. */
  get lastActivity(): number {
    return this.#lastActivity;
  }

  /** Something was read at `now`. */
  touch(now: number): void {
    this.#lastActivity = now;
    // Read while stopped (the chunk during which a pause began): held time counts from here.
    if (this.#stoppedAt >= 0) this.#stoppedAt = now;
  }

  /** The connection is held (a pause): the clock stands still. */
  stop(now = this.#timers.now()): void {
    if (this.#stoppedAt < 0) this.#stoppedAt = now;
  }

  /** It is read again: time stopped is not counted. */
  start(now = this.#timers.now()): void {
    if (this.#stoppedAt < 0) return;
    this.#lastActivity += now - this.#stoppedAt;
    this.#stoppedAt = -1;
    if (this.#timer === undefined) this.#arm(Math.max(0, this.#timeoutMs - (now - this.#lastActivity)));
  }

  close(): void {
    this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(delay: number): void {
    if (this.#timeoutMs === 0) return;
    this.close();
    this.#timer = this.#timers.setTimeout(this.#fire, delay);
    this.#timer.unref();
  }

  #fire = (): void => {
    this.#timer = undefined;
    if (this.#stoppedAt >= 0) return; // stopped: start() arms it for the remainder
    const now = this.#timers.now();
    if (this.#exempt()) this.#lastActivity = now;
    const silent = now - this.#lastActivity;
    if (silent < this.#timeoutMs) this.#arm(this.#timeoutMs - silent);
    else this.#onIdle(silent);
  };
}
