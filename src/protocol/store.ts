/**
 * The SET/GET/DEL key-value store. In memory, per daemon, bounded: a board has little RAM
 * and a client loop must not be able to grow it without limit. With --state-dir it is saved
 * by src/store/ (it reports each change to one listener and counts them in `version`).
 */
export const MAX_KEYS = 10_000;
export const MAX_KEY_BYTES = 256;
/** Keys and values together; with --max-line up to 1 MiB, MAX_KEYS alone would allow 10 GiB. */
export const MAX_STORE_BYTES = 8 * 1024 * 1024;

/** Space, C0 controls, DEL and C1 controls: never part of a key. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const NOT_IN_KEY = /[\x00-\x20\x7f-\x9f]/;

/** A key as the protocol accepts it: one word of at most 256 bytes, no control characters. */
export function isValidKey(text: string): boolean {
  return text !== '' && !NOT_IN_KEY.test(text) && Buffer.byteLength(text) <= MAX_KEY_BYTES;
}

/** A flat copy of `text`, sharing nothing with the string it came from. */
function own(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

export class KvStore {
  readonly #map = new Map<string, string>();
  readonly #maxKeys: number;
  readonly #maxBytes: number;
  #bytes = 0;
  #version = 0;
  #onChange: (() => void) | undefined;

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

  /** Changes so far: a saved copy is current while this has not moved. */
  get version(): number {
    return this.#version;
  }

  /** The one listener told of every change (the persistence's flush scheduler). */
  onChange(listener: () => void): void {
    this.#onChange = listener;
  }

  entries(): IterableIterator<[string, string]> {
    return this.#map.entries();
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
    // Own copies: a request's strings may be slices of the text of a whole read (line-parser.ts),
    // and a kept slice would keep that text alive with it.
    this.#map.set(old === undefined ? own(key) : key, own(value));
    this.#bytes += delta;
    this.#changed();
    return true;
  }

  delete(key: string): boolean {
    const old = this.#map.get(key);
    if (old === undefined) return false;
    this.#map.delete(key);
    this.#bytes -= Buffer.byteLength(key) + Buffer.byteLength(old);
    this.#changed();
    return true;
  }

  #changed(): void {
    this.#version += 1;
    this.#onChange?.();
  }
}
