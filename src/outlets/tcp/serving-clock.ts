/**
 * The time a server's connections are served: a clock that stands still while the pause
 * cycle holds them. The idle and line timeouts count in it, so no pause counts against a
 * client, and holding or releasing 1000 connections needs no step in any of their clocks.
 * That step (stopping and starting two clocks per connection) was about half of a first
 * release of 1000 held connections, run cold.
 *
 * A clock whose timer comes due while held cannot decide then (its time is frozen), and
 * re-arming would wake it again and again through a long pause: it asks to be rechecked at
 * the release instead. Only those few are touched then.
 */
import { NO_TIME, ZERO_MS, type Timers } from '../../util/timers.js';

/** A connection clock that came due while held. */
export interface Recheck {
  recheck(): void;
}

export class ServingClock {
  readonly timers: Timers;
  /** Held time before the current hold, summed. */
  #heldMs = ZERO_MS;
  /** When the current hold began (NO_TIME: serving). */
  #heldSince = NO_TIME;
  readonly #due = new Set<Recheck>();

  constructor(timers: Timers) {
    this.timers = timers;
  }

  get held(): boolean {
    return this.#heldSince !== NO_TIME;
  }

  /** Serving time now. */
  now(): number {
    return this.at(this.timers.now());
  }

  /** Serving time at `now`, a reading of timers.now() the caller already has. */
  at(now: number): number {
    return (this.#heldSince !== NO_TIME ? this.#heldSince : now) - this.#heldMs;
  }

  hold(): void {
    if (this.#heldSince === NO_TIME) this.#heldSince = this.timers.now();
  }

  /** Serving again: the clocks that came due meanwhile decide now. */
  release(): void {
    if (this.#heldSince === NO_TIME) return;
    this.#heldMs += this.timers.now() - this.#heldSince;
    this.#heldSince = NO_TIME;
    if (this.#due.size === 0) return;
    const due = [...this.#due];
    this.#due.clear();
    for (const clock of due) clock.recheck();
  }

  /** Called by a clock whose timer fired while held. */
  recheckAtRelease(clock: Recheck): void {
    this.#due.add(clock);
  }

  /** A closed clock is not rechecked. */
  forget(clock: Recheck): void {
    this.#due.delete(clock);
  }
}
