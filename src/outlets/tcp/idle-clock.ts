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

/** What the clock reports to. An owner, not callbacks: closures per connection cost heap. */
export interface IdleOwner {
  /** Silent for the timeout (held time not counted). */
  onIdle(silentMs: number): void;
  /** Asked when the timer fires: never idle while true (a subscriber). */
  readonly idleExempt: boolean;
}

export class IdleClock {
  readonly #timeoutMs: number;
  readonly #timers: Timers;
  readonly #owner: IdleOwner;
  #lastActivity: number;
  /** When the clock was stopped (-1: it runs). */
  #stoppedAt = -1;
  #timer: TimerHandle | undefined;

  /** timeoutMs 0 disables it. Starts stopped. */
  constructor(timeoutMs: number, timers: Timers, owner: IdleOwner) {
    this.#timeoutMs = timeoutMs;
    this.#timers = timers;
    this.#owner = owner;
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
    this.#timer = this.#timers.setTimeout(IdleClock.#fire, delay, this);
    this.#timer.unref();
  }

  static #fire(clock: IdleClock): void {
    clock.#timer = undefined;
    if (clock.#stoppedAt >= 0) return; // stopped: start() arms it for the remainder
    const now = clock.#timers.now();
    if (clock.#owner.idleExempt) clock.#lastActivity = now;
    const silent = now - clock.#lastActivity;
    if (silent < clock.#timeoutMs) clock.#arm(clock.#timeoutMs - silent);
    else clock.#owner.onIdle(silent);
  }
}
