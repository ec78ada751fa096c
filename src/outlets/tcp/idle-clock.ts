/**
 * The idle timeout of one connection: it is closed after `timeoutMs` of serving time without
 * a read. Lazy like the line clock: a read only stamps a time (`touch`, on the hot path), the
 * timer re-arms itself for the remainder when it fires. Time held by a pause does not count
 * (the serving clock stands still then), and a subscriber, silent by design while it waits
 * for pushes, never times out (TCP keepalive catches dead peers).
 */
import { NO_TIME, type TimerHandle } from '../../util/timers.js';
import type { Recheck, ServingClock } from './serving-clock.js';

/** What the clock reports to. An owner, not callbacks: closures per connection cost heap. */
export interface IdleOwner {
  /** Silent for the timeout (held time not counted). */
  onIdle(silentMs: number): void;
  /** Asked when the timer fires: never idle while true (a subscriber). */
  readonly idleExempt: boolean;
}

export class IdleClock implements Recheck {
  readonly #timeoutMs: number;
  readonly #clock: ServingClock;
  readonly #owner: IdleOwner;
  /** Serving time of the last read (stamped by start()). */
  #lastActivity = NO_TIME;
  #timer: TimerHandle | undefined;

  /** timeoutMs 0 disables it. Nothing runs until start(). */
  constructor(timeoutMs: number, clock: ServingClock, owner: IdleOwner) {
    this.#timeoutMs = timeoutMs;
    this.#clock = clock;
    this.#owner = owner;
  }

  /** The last read, for the line clock: when an unterminated line's first byte came. */
  get lastActivity(): number {
    return this.#lastActivity;
  }

  /** Something was read at serving time `now`. */
  touch(now: number): void {
    this.#lastActivity = now;
  }

  start(): void {
    this.#lastActivity = this.#clock.now();
    this.#arm(this.#timeoutMs);
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

  #arm(delay: number): void {
    if (this.#timeoutMs === 0) return;
    this.#clock.timers.clearTimeout(this.#timer);
    this.#timer = this.#clock.timers.setTimeout(IdleClock.#fire, delay, this);
    this.#timer.unref();
  }

  static #fire(clock: IdleClock): void {
    clock.#timer = undefined;
    clock.#check();
  }

  #check(): void {
    if (this.#clock.held) return this.#clock.recheckAtRelease(this);
    const now = this.#clock.now();
    if (this.#owner.idleExempt) this.#lastActivity = now;
    const silent = now - this.#lastActivity;
    if (silent < this.#timeoutMs) this.#arm(this.#timeoutMs - silent);
    else this.#owner.onIdle(silent);
  }
}
