/**
 * `GET /events`: the server-sent event streams. Each stream gets `retry`, the current status
 * and the latest reading (or, with `Last-Event-ID`, every held reading after that id — a
 * reading's id is its `at`), then `reading` after every task run, `status` when the state,
 * the clients or the last task change (coalesced), `shutdown` with the remaining seconds
 * during the countdown, and a `: heartbeat` comment every 15 s so proxies keep it open.
 *
 * While the hub is paused nothing is pushed: pushes wait for the resume, like held requests.
 * A stream whose reader stops reading is dropped once its queued output passes the cap
 * (measured with writableLength, not write()'s return), like a TCP subscriber.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Hub, PublishedReading } from '../../hub/hub.js';
import type { HistoryEntry } from '../../hub/history.js';
import { rateLimited } from '../../log/rate-limit.js';
import type { TimerHandle, Timers } from '../../util/timers.js';

export const HEARTBEAT_MS = 15_000;
export const MAX_STREAM_OUTPUT = 256 * 1024;
/** Status changes closer together than this are sent as one. */
export const STATUS_COALESCE_MS = 100;
/** The browser waits this long before reconnecting a dropped stream. */
export const RETRY_MS = 3_000;
/** Readings held for the resume (only a bug or a very long pause could queue more). */
const MAX_PENDING_READINGS = 16;

export interface EventStreamsOptions {
  readonly hub: Hub;
  readonly log: Logger;
  readonly timers: Timers;
  readonly heartbeatMs?: number;
  readonly maxOutput?: number;
}

const frame = (event: string, data: string, id?: string): string => `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`;
const readingFrame = (entry: HistoryEntry): string => frame('reading', entry.json, entry.reading.at);

export class EventStreams {
  readonly #opts: EventStreamsOptions;
  readonly #streams = new Set<ServerResponse>();
  readonly #logDropped: ReturnType<typeof rateLimited>;
  #held = false;
  #pendingReadings: PublishedReading[] = [];
  #pendingStatus = false;
  #pendingShutdown: number | undefined;
  #statusTimer: TimerHandle | undefined;
  #heartbeat: TimerHandle | undefined;

  constructor(opts: EventStreamsOptions) {
    this.#opts = opts;
    this.#logDropped = rateLimited(opts.log, 'warn', { timers: opts.timers });
  }

  get size(): number {
    return this.#streams.size;
  }

  /** Starts a stream on a response whose common headers are set. */
  open(req: IncomingMessage, res: ServerResponse, lastEventId: string | undefined): void {
    const { hub } = this.#opts;
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
    this.#streams.add(res);
    res.once('close', () => this.#forget(res));
    req.socket.setTimeout(0);
    const replay = lastEventId ? hub.history.since(lastEventId) : [];
    const latest = hub.latest;
    let out = `retry: ${RETRY_MS}\n\n${frame('status', JSON.stringify(hub.status()))}`;
    if (replay.length > 0) out += replay.map(readingFrame).join('');
    else if (latest && latest.reading.at !== lastEventId) out += readingFrame(latest.entry);
    this.#write(res, out);
    this.#armHeartbeat();
  }

  reading(published: PublishedReading): void {
    if (this.#held) {
      this.#pendingReadings.push(published);
      if (this.#pendingReadings.length > MAX_PENDING_READINGS) this.#pendingReadings.shift();
      return;
    }
    this.#broadcast(readingFrame(published.entry));
  }

  /** Something STATUS shows changed: one `status` event soon (or after the pause). */
  statusChanged(): void {
    if (this.#held) {
      this.#pendingStatus = true;
      return;
    }
    if (this.#statusTimer !== undefined || this.#streams.size === 0) return;
    this.#statusTimer = this.#opts.timers.setTimeout(() => {
      this.#statusTimer = undefined;
      this.#sendStatus();
    }, STATUS_COALESCE_MS);
  }

  /** The countdown: `shutdown` with the seconds left, and the status saying `draining`. */
  shutdown(remainingS: number): void {
    if (this.#held) {
      this.#pendingShutdown = remainingS;
      this.#pendingStatus = true;
      return;
    }
    this.#broadcast(frame('shutdown', JSON.stringify({ remainingS })));
    this.#sendStatus();
  }

  hold(): void {
    this.#held = true;
  }

  release(): void {
    this.#held = false;
    const readings = this.#pendingReadings;
    this.#pendingReadings = [];
    for (const r of readings) this.reading(r);
    const shutdown = this.#pendingShutdown;
    this.#pendingShutdown = undefined;
    if (shutdown !== undefined) this.shutdown(shutdown);
    else if (this.#pendingStatus) {
      // Sent shortly, with the state change the resume itself brings: one status per pause.
      this.#pendingStatus = false;
      this.statusChanged();
    }
  }

  /** Ends every stream and stops the timers. */
  close(): void {
    this.#opts.timers.clearTimeout(this.#statusTimer);
    this.#opts.timers.clearTimeout(this.#heartbeat);
    this.#statusTimer = undefined;
    this.#heartbeat = undefined;
    for (const res of [...this.#streams]) {
      this.#streams.delete(res);
      res.end();
    }
  }

  #sendStatus(): void {
    this.#opts.timers.clearTimeout(this.#statusTimer);
    this.#statusTimer = undefined;
    this.#pendingStatus = false;
    if (this.#streams.size > 0) this.#broadcast(frame('status', JSON.stringify(this.#opts.hub.status())));
  }

  #broadcast(text: string): void {
    for (const res of [...this.#streams]) this.#write(res, text);
  }

  #write(res: ServerResponse, text: string): void {
    res.write(text);
    if (res.writableLength <= (this.#opts.maxOutput ?? MAX_STREAM_OUTPUT)) return;
    this.#logDropped({ remote: `${res.req.socket.remoteAddress}:${res.req.socket.remotePort}`, queuedBytes: res.writableLength }, 'event stream dropped: not reading');
    this.#forget(res);
    res.destroy();
  }

  #forget(res: ServerResponse): void {
    this.#streams.delete(res);
    if (this.#streams.size === 0) {
      this.#opts.timers.clearTimeout(this.#heartbeat);
      this.#heartbeat = undefined;
    }
  }

  #armHeartbeat(): void {
    if (this.#heartbeat !== undefined) return;
    this.#heartbeat = this.#opts.timers.setTimeout(() => {
      this.#heartbeat = undefined;
      if (this.#streams.size === 0) return;
      this.#broadcast(': heartbeat\n\n');
      if (this.#streams.size > 0) this.#armHeartbeat();
    }, this.#opts.heartbeatMs ?? HEARTBEAT_MS);
  }
}
