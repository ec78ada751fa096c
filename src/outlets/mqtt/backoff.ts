/**
 * The reconnect schedule: 1 s, 2 s, 4 s … capped at 30 s, each delay shortened by up to a
 * fifth at random, so a fleet that lost its broker at the same moment does not come back in
 * lockstep. `random` is injectable for tests.
 */
export const BACKOFF_MIN_MS = 1000;
export const BACKOFF_MAX_MS = 30_000;
const JITTER = 0.2;

export class Backoff {
  #attempt = 0;
  readonly #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  /** The delay before the next attempt; each call moves one step up the schedule. */
  next(): number {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(this.#attempt, 16));
    this.#attempt += 1;
    return Math.round(base * (1 - JITTER * this.#random()));
  }

  /** A connection succeeded: the next loss starts again at 1 s. */
  reset(): void {
    this.#attempt = 0;
  }
}
