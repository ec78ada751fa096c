/** What every connection of one server shares: its settings and where it reports (one object for all). */
import type { Logger } from 'pino';
import type { Protocol } from '../../config/options.js';
import type { CommandHost } from '../../protocol/commands.js';
import type { Timers } from '../../util/timers.js';
import type { Connection } from './connection.js';
import type { ServingClock } from './serving-clock.js';

export interface ConnectionDeps {
  readonly protocol: Protocol;
  readonly maxLine: number;
  readonly idleTimeoutMs: number;
  /** A request line must be complete this long after its first byte; 0 disables. */
  readonly lineTimeoutMs: number;
  /**
   * Cap on what one connection makes the daemon hold (unanswered input, answer batch, write
   * queue): answering pauses there until the socket drains, and a subscriber whose pushes
   * would pass it is dropped. One answer line may exceed it on its own (a big HISTORY).
   */
  readonly maxHeldBytes: number;
  readonly commands: CommandHost;
  readonly log: Logger;
  readonly timers: Timers;
  /** Serving time (stands still while the pause holds connections): what the timeouts count. */
  readonly clock: ServingClock;
  /** Requests answered, once per batch (STATUS counters, the activity LED). */
  onRequests(count: number): void;
  /** A chunk was read at `now` (and answered, unless held): a pause that is due may start (PauseCycle.checkDue). */
  onRead(now: number): void;
  /** The server ended or lost this connection: it stops counting toward --max-clients. */
  onEnded(conn: Connection): void;
  /** Its socket is closed (after onEnded): the address's slot is free. One function for all, not a listener each. */
  onClosed(conn: Connection): void;
}
