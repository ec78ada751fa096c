/**
 * The pause, for HTTP: while the hub's task runs, requests are not answered but queued, and
 * answered in arrival order once it ends, like held TCP requests. The queue is bounded (a
 * request beyond it is answered 503 at once); a request whose client left while held is
 * skipped. Nothing here knows HTTP: it runs or queues callbacks.
 */

export const DEFAULT_MAX_HELD = 256;

export interface Held {
  /** Runs once the gate is open; `alive()` false means the client left: skip it. */
  readonly run: () => void;
  readonly alive: () => boolean;
}

export class PauseGate {
  readonly #max: number;
  #queue: Held[] = [];
  #held = false;

  constructor(maxHeld = DEFAULT_MAX_HELD) {
    this.#max = maxHeld;
  }

  get held(): boolean {
    return this.#held;
  }

  /** Requests waiting for the pause to end. */
  get waiting(): number {
    return this.#queue.length;
  }

  hold(): void {
    this.#held = true;
  }

  /** Opens the gate and runs what was queued, in order. */
  release(): void {
    this.#held = false;
    const queue = this.#queue;
    this.#queue = [];
    for (const item of queue) {
      // A pause may start again while the queue runs (a listener re-holds): re-queue the rest.
      if (this.#held) this.#queue.push(item);
      else if (item.alive()) item.run();
    }
  }

  /** Runs now when open; queues when held. False when the queue is full (nothing queued). */
  submit(item: Held): boolean {
    if (!this.#held) {
      item.run();
      return true;
    }
    if (this.#queue.length >= this.#max) {
      this.#queue = this.#queue.filter((i) => i.alive());
      if (this.#queue.length >= this.#max) return false;
    }
    this.#queue.push(item);
    return true;
  }

  /** Forgets everything queued (the listener is closing; its sockets are destroyed). */
  clear(): void {
    this.#queue = [];
  }
}
