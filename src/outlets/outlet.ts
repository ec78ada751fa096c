/**
 * What every outlet is to the composition root. An outlet subscribes to the hub when it is
 * built; `start` opens what it serves (before READY), `close` is its part of the one ordered
 * shutdown (outlets close in reverse registration order), `forceClose` the synchronous
 * teardown of a forced exit. A new outlet: a folder under src/outlets/, one factory that
 * returns this, one line in src/daemon.ts.
 */
import type { Logger } from 'pino';

export interface Outlet {
  readonly name: string;
  /** Opens what the outlet serves (listen, connect). A rejection stops startup. */
  start?(): Promise<void>;
  /** Graceful close at the end of the countdown. Must not reject; idempotent. */
  close?(): Promise<void>;
  /** A forced exit or a crash: synchronous, no waiting; idempotent. */
  forceClose?(): void;
}

/** Closes every outlet, last registered first; one failing close does not stop the rest. */
export async function closeOutlets(outlets: readonly Outlet[], log: Logger): Promise<void> {
  for (const outlet of [...outlets].reverse()) {
    try {
      await outlet.close?.();
    } catch (err) {
      log.warn({ err, outlet: outlet.name }, 'outlet failed to close');
    }
  }
}

export function forceCloseOutlets(outlets: readonly Outlet[], log: Logger): void {
  for (const outlet of [...outlets].reverse()) {
    try {
      outlet.forceClose?.();
    } catch (err) {
      log.warn({ err, outlet: outlet.name }, 'outlet failed to close');
    }
  }
}
