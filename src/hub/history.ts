/**
 * The reading history: the last N successful readings, oldest first, in a ring bounded both
 * by entry count and by bytes (a task may return up to 64 KiB a reading: 720 of those would
 * be 46 MiB). Each entry keeps its JSON, built once, so HISTORY, /api/history and the
 * persisted copy never serialise a reading twice.
 */

/** One successful task run, as HISTORY, READ and every outlet show it. */
export interface Reading {
  /** ISO 8601 time the run finished. */
  readonly at: string;
  readonly durationMs: number;
  readonly value: unknown;
}

export interface HistoryEntry {
  readonly reading: Reading;
  /** `{"at":…,"durationMs":…,"value":…}` */
  readonly json: string;
  readonly bytes: number;
}

export const MAX_HISTORY = 100_000;
export const DEFAULT_HISTORY_BYTES = 8 * 1024 * 1024;

export function entryOf(reading: Reading): HistoryEntry {
  const json = JSON.stringify({ at: reading.at, durationMs: reading.durationMs, value: reading.value ?? null });
  return { reading, json, bytes: Buffer.byteLength(json) };
}

export class History {
  readonly #max: number;
  readonly #maxBytes: number;
  /** Live entries are #ring[#head..]; the dead prefix is cut off once it is half the array. */
  #ring: Array<HistoryEntry | undefined> = [];
  #head = 0;
  #bytes = 0;
  #dropped = 0;
  #version = 0;

  constructor(maxEntries: number, maxBytes = DEFAULT_HISTORY_BYTES) {
    if (!Number.isInteger(maxEntries) || maxEntries < 0 || maxEntries > MAX_HISTORY) throw new RangeError(`history size ${maxEntries} outside 0..${MAX_HISTORY}`);
    this.#max = maxEntries;
    this.#maxBytes = maxBytes;
  }

  get size(): number {
    return this.#ring.length - this.#head;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Entries pushed out to stay within the byte budget (not those rotated out by count). */
  get dropped(): number {
    return this.#dropped;
  }

  get capacity(): number {
    return this.#max;
  }

  /** Pushes so far: a saved copy is current while this has not moved. */
  get version(): number {
    return this.#version;
  }

  /** Readings saved by an earlier run, oldest first, under the same count and byte limits. */
  load(readings: readonly Reading[]): void {
    for (const reading of readings) this.push(entryOf(reading));
  }

  push(entry: HistoryEntry): void {
    if (this.#max === 0) return;
    this.#version += 1;
    if (entry.bytes > this.#maxBytes) {
      this.#dropped += 1;
      return;
    }
    this.#ring.push(entry);
    this.#bytes += entry.bytes;
    while (this.size > this.#max) this.#shift();
    while (this.#bytes > this.#maxBytes) {
      this.#shift();
      this.#dropped += 1;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#ring.length) {
      this.#ring = this.#ring.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The last n entries (all when n is undefined), oldest first; a copy of the references. */
  last(n?: number): HistoryEntry[] {
    const count = n === undefined ? this.size : Math.max(0, Math.min(n, this.size));
    const out: HistoryEntry[] = [];
    for (let i = this.#ring.length - count; i < this.#ring.length; i += 1) out.push(this.#ring[i]!);
    return out;
  }

  /** Entries whose `at` is after `at` (Last-Event-ID style resume), oldest first. */
  since(at: string): HistoryEntry[] {
    const out: HistoryEntry[] = [];
    for (let i = this.#ring.length - 1; i >= this.#head; i -= 1) {
      const e = this.#ring[i]!;
      if (e.reading.at <= at) break;
      out.push(e);
    }
    return out.reverse();
  }

  #shift(): void {
    const e = this.#ring[this.#head];
    if (!e) return;
    this.#ring[this.#head] = undefined; // let the entry be collected
    this.#head += 1;
    this.#bytes -= e.bytes;
  }
}
