/**
 * The slow-loris guard of one connection: a request line must be complete within
 * `timeoutMs` of its first byte. The clock runs only while the connection is read — time held
 * by a pause or waiting for 'drain' does not count — and its timer is lazy like the idle
 * check: a completed line only clears a time stamp, the timer re-checks when it fires.
 */
import type { TimerHandle, Timers } from '../../util/timers.js';

/** What the clock reports to (an owner, not a callback: a closure per connection costs heap). */
export interface LineClockOwner {
  /** The unterminated line has had `elapsedMs` of reading time, at least the timeout. */
  onLineTimeout(elapsedMs: number): void;
}

export class LineClock {
  readonly #timeoutMs: number;
  readonly #timers: Timers;
  readonly #owner: LineClockOwner;
  /** Time the connection was not read, summed, and since when it is not read now (-1: it is). */
  #notReadingMs = 0;
  #notReadingSince = -1;
  /** When the unterminated line began (-1: none), and #notReadingMs then. */
  #startedAt = -1;
  #startNotReading = 0;
  #timer: TimerHandle | undefined;

  /** timeoutMs 0 disables the clock. */
  constructor(timeoutMs: number, timers: Timers, owner: LineClockOwner) {
    this.#timeoutMs = timeoutMs;
    this.#timers = timers;
    this.#owner = owner;
  }

  /** A line was taken: the clock restarts once the parser runs dry with bytes left over. */
  lineTaken(): void {
    this.#startedAt = -1;
  }

  /** After the parser ran dry: start, keep or stop the clock of the unterminated line. */
  track(bufferedBytes: number, firstByteAt: number): void {
    if (this.#timeoutMs === 0) return;
    if (bufferedBytes === 0) {
      this.#startedAt = -1;
      return;
    }
    if (this.#startedAt >= 0) return;
    // Its first byte came in the chunk just read (an older partial line would still be open).
    this.#startedAt = firstByteAt;
    this.#startNotReading = this.#notReadingNow(firstByteAt);
    if (this.#timer === undefined) this.#arm(this.#timeoutMs);
  }

  /** The connection stopped (false) or started (true) being read. */
  reading(read: boolean, now = this.#timers.now()): void {
    if (!read && this.#notReadingSince < 0) this.#notReadingSince = now;
    else if (read && this.#notReadingSince >= 0) {
      this.#notReadingMs += now - this.#notReadingSince;
      this.#notReadingSince = -1;
      // The timer is not re-armed while the clock stands still; it resumes with the clock.
      if (this.#startedAt >= 0 && this.#timer === undefined) this.#arm(Math.max(0, this.#timeoutMs - this.#elapsed(now)));
    }
  }

  close(): void {
    this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #notReadingNow(now: number): number {
    return this.#notReadingMs + (this.#notReadingSince >= 0 ? now - this.#notReadingSince : 0);
  }

  /** Time the unterminated line has had while the connection was read. */
  #elapsed(now: number): number {
    return now - this.#startedAt - (this.#notReadingNow(now) - this.#startNotReading);
  }

  #arm(delay: number): void {
    this.#timer = this.#timers.setTimeout(LineClock.#fire, delay, this);
    this.#timer.unref();
  }

  static #fire(clock: LineClock): void {
    clock.#timer = undefined;
    // Not read right now (a pause, waiting for 'drain'): reading(true) restarts the timer.
    if (clock.#startedAt < 0 || clock.#notReadingSince >= 0) return;
    const elapsed = clock.#elapsed(clock.#timers.now());
    if (elapsed < clock.#timeoutMs) clock.#arm(clock.#timeoutMs - elapsed);
    else clock.#owner.onLineTimeout(elapsed);
  }
}
