/**
 * The slow-loris guard of one connection: a request line must be complete within
 * `timeoutMs` of its first byte. The clock runs only while the connection is read: it counts
 * serving time (a pause does not count), minus the time spent waiting for 'drain'. Its timer
 * is lazy like the idle check: a completed line only clears a time stamp, the timer re-checks
 * when it fires.
 */
import { NO_TIME, ZERO_MS, type TimerHandle } from '../../util/timers.js';
import type { Recheck, ServingClock } from './serving-clock.js';

/** What the clock reports to (an owner, not a callback: a closure per connection costs heap). */
export interface LineClockOwner {
  /** The unterminated line has had `elapsedMs` of reading time, at least the timeout. */
  onLineTimeout(elapsedMs: number): void;
}

export class LineClock implements Recheck {
  readonly #timeoutMs: number;
  readonly #clock: ServingClock;
  readonly #owner: LineClockOwner;
  /** Serving time spent waiting for 'drain', summed, and since when it waits now (NO_TIME: it does not). */
  #notReadingMs = ZERO_MS;
  #notReadingSince = NO_TIME;
  /** When the unterminated line began (NO_TIME: none), and #notReadingMs then. */
  #startedAt = NO_TIME;
  #startNotReading = ZERO_MS;
  #timer: TimerHandle | undefined;

  /** timeoutMs 0 disables the clock. */
  constructor(timeoutMs: number, clock: ServingClock, owner: LineClockOwner) {
    this.#timeoutMs = timeoutMs;
    this.#clock = clock;
    this.#owner = owner;
  }

  /** A line was taken: the clock restarts once the parser runs dry with bytes left over. */
  lineTaken(): void {
    this.#startedAt = NO_TIME;
  }

  /** After the parser ran dry: start, keep or stop the clock of the unterminated line. */
  track(bufferedBytes: number, firstByteAt: number): void {
    if (this.#timeoutMs === 0) return;
    if (bufferedBytes === 0) {
      this.#startedAt = NO_TIME;
      return;
    }
    if (this.#startedAt >= 0) return;
    // Its first byte came in the chunk just read (an older partial line would still be open).
    this.#startedAt = firstByteAt;
    this.#startNotReading = this.#notReadingNow(firstByteAt);
    if (this.#timer === undefined) this.#arm(this.#timeoutMs);
  }

  /** The connection stopped (false) or started (true) being read: waiting for 'drain'. */
  reading(read: boolean): void {
    const now = this.#clock.now();
    if (!read && this.#notReadingSince < 0) this.#notReadingSince = now;
    else if (read && this.#notReadingSince >= 0) {
      this.#notReadingMs += now - this.#notReadingSince;
      this.#notReadingSince = NO_TIME;
      // The timer is not re-armed while the clock stands still; it resumes with the clock.
      if (this.#startedAt >= 0 && this.#timer === undefined) this.#arm(Math.max(0, this.#timeoutMs - this.#elapsed(now)));
    }
  }

  close(): void {
    this.#clock.timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#clock.forget(this);
  }

  /** The serving clock's release, after the timer fired while held (Recheck). */
  recheck(): void {
    if (this.#timer === undefined) this.#check();
  }

  #notReadingNow(now: number): number {
    return this.#notReadingMs + (this.#notReadingSince >= 0 ? now - this.#notReadingSince : 0);
  }

  /** Time the unterminated line has had while the connection was read. */
  #elapsed(now: number): number {
    return now - this.#startedAt - (this.#notReadingNow(now) - this.#startNotReading);
  }

  #arm(delay: number): void {
    this.#timer = this.#clock.timers.setTimeout(LineClock.#fire, delay, this);
    this.#timer.unref();
  }

  static #fire(clock: LineClock): void {
    clock.#timer = undefined;
    clock.#check();
  }

  #check(): void {
    // Waiting for 'drain': reading(true) restarts the timer.
    if (this.#startedAt < 0 || this.#notReadingSince >= 0) return;
    if (this.#clock.held) return this.#clock.recheckAtRelease(this);
    const elapsed = this.#elapsed(this.#clock.now());
    if (elapsed < this.#timeoutMs) this.#arm(this.#timeoutMs - elapsed);
    else this.#owner.onLineTimeout(elapsed);
  }
}
