/**
 * A small typed event emitter for the hub. Unlike node:events, a listener that throws is
 * logged and skipped: one broken outlet must never stop the others or the daemon (an LED
 * write failing must not keep the TCP clients held).
 */
import type { Logger } from 'pino';

export type Listener<T> = (payload: T) => void;

export class Emitter<Events extends object> {
  readonly #listeners = new Map<keyof Events, Array<Listener<never>>>();
  readonly #log: Pick<Logger, 'error'>;

  constructor(log: Pick<Logger, 'error'>) {
    this.#log = log;
  }

  /** Subscribes; returns the unsubscribe function. Listeners run in subscription order. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const list = this.#listeners.get(event) ?? [];
    list.push(listener);
    this.#listeners.set(event, list);
    return () => {
      const current = this.#listeners.get(event);
      if (current) this.#listeners.set(event, current.filter((l) => l !== listener));
    };
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const list = this.#listeners.get(event);
    if (!list) return;
    for (const listener of list as Array<Listener<Events[K]>>) {
      try {
        listener(payload);
      } catch (err) {
        this.#log.error({ err, event: String(event) }, 'hub listener failed');
      }
    }
  }
}
