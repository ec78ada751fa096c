/**
 * Store and forward: the readings not yet acknowledged by the broker, oldest first, bounded
 * by --mqtt-queue. A reading stays here until its PUBACK arrives, so a connection lost in
 * the middle of a flush loses nothing (the broker may see it twice: QoS 1 is at least once).
 * When full, the oldest reading is dropped and counted.
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
    if (this.size >= this.capacity) {
      this.#head += 1;
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

  /** Removes `item` if it is still the oldest (it may have been dropped while in flight). */
  acknowledge(item: QueuedReading): void {
    if (this.#items[this.#head] !== item) return;
    this.#head += 1;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    }
  }
}
