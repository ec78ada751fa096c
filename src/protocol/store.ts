/**
 * The SET/GET/DEL key-value store. In memory, per daemon, bounded: a board has little RAM
 * and a client loop must not be able to grow it without limit.
 */
export const MAX_KEYS = 10_000;
export const MAX_KEY_BYTES = 256;

export class KvStore {
  readonly #map = new Map<string, string>();
  readonly #maxKeys: number;

  constructor(maxKeys = MAX_KEYS) {
    this.#maxKeys = maxKeys;
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: string): string | undefined {
    return this.#map.get(key);
  }

  /** False when the key is new and the store is full (overwriting always works). */
  set(key: string, value: string): boolean {
    if (!this.#map.has(key) && this.#map.size >= this.#maxKeys) return false;
    this.#map.set(key, value);
    return true;
  }

  delete(key: string): boolean {
    return this.#map.delete(key);
  }
}
