/**
 * Store and forward: the readings not yet acknowledged by the broker, oldest first, bounded
 * by --mqtt-queue. A reading stays here until its PUBACK arrives, so a connection lost in
 * the middle of a flush loses nothing (the broker may see it twice: QoS 1 is at least once).
 * When full, the oldest reading not in flight is dropped and counted: the one being sent
 * is not dropped (the broker may already have it), so `dropped` counts exactly the readings
 * that never went out, and the queue holds at most capacity + 1 (that one).
 */
export interface QueuedReading {
  /** The reading's original `at`, kept for logs and tests. */
  readonly at: string;
  /** The READ payload, exactly as the hub built it. */
  readonly json: string;
}

export class ReadingQueue {
  readonly capacity: number;
  #items: QueuedReading[] = [];
  #head = 0;
  #dropped = 0;
  /** The oldest reading has been sent and awaits its acknowledgement. */
  #inFlight = false;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Readings dropped because the queue was full, since start. */
  get dropped(): number {
    return this.#dropped;
  }

  push(item: QueuedReading): void {
    if (this.capacity === 0) {
      this.#dropped += 1;
      return;
    }
    if (this.size - (this.#inFlight ? 1 : 0) >= this.capacity) {
      if (this.#inFlight) this.#items.splice(this.#head + 1, 1);
      else this.#head += 1;
      this.#dropped += 1;
    }
    this.#items.push(item);
    // Compact now and then instead of shifting on every drop: O(1) amortised.
    if (this.#head > 64 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }

  peek(): QueuedReading | undefined {
    return this.#items[this.#head];
  }

  /** The oldest reading, now marked in flight (not dropped until acknowledged or released). */
  send(): QueuedReading | undefined {
    const item = this.#items[this.#head];
    this.#inFlight = item !== undefined;
    return item;
  }

  /** Sending failed (the connection was lost): it stays the oldest, to be sent again. */
  release(): void {
    this.#inFlight = false;
  }

  /** The broker has the oldest reading: it leaves the queue. */
  acknowledge(item: QueuedReading): void {
    if (this.#items[this.#head] !== item) return;
    this.#inFlight = false;
    this.#head += 1;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    }
  }
}
