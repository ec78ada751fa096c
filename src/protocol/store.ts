/**
 * The SET/GET/DEL key-value store. In memory, per daemon, bounded: a board has little RAM
 * and a client loop must not be able to grow it without limit.
 */
export const MAX_KEYS = 10_000;
export const MAX_KEY_BYTES = 256;
/** Keys and values together; with --max-line up to 1 MiB, MAX_KEYS alone would allow 10 GiB. */
export const MAX_STORE_BYTES = 8 * 1024 * 1024;

export class KvStore {
  readonly #map = new Map<string, string>();
  readonly #maxKeys: number;
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(maxKeys = MAX_KEYS, maxBytes = MAX_STORE_BYTES) {
    this.#maxKeys = maxKeys;
    this.#maxBytes = maxBytes;
  }

  /** Bytes held (keys and values, UTF-8). */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: string): string | undefined {
    return this.#map.get(key);
  }

  /** False when the store would go over its key count or byte budget. */
  set(key: string, value: string): boolean {
    const old = this.#map.get(key);
    if (old === undefined && this.#map.size >= this.#maxKeys) return false;
    const delta = Buffer.byteLength(value) - (old === undefined ? -Buffer.byteLength(key) : Buffer.byteLength(old));
    if (this.#bytes + delta > this.#maxBytes) return false;
    this.#map.set(key, value);
    this.#bytes += delta;
    return true;
  }

  delete(key: string): boolean {
    const old = this.#map.get(key);
    if (old === undefined) return false;
    this.#map.delete(key);
    this.#bytes -= Buffer.byteLength(key) + Buffer.byteLength(old);
    return true;
  }
}
