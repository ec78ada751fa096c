/**
 * The TCP side: accepts, admits or refuses, tracks connections, and applies daemon-wide
 * actions to all of them (pause, resume, SHUTDOWN notice, pushes, close).
 *
 * Admission, in order: an address outside --allow gets `ERR forbidden`; while draining a
 * newcomer gets `SHUTDOWN`; past --max-clients, or past --max-clients-per-ip for its address
 * (loopback counts like any other), `ERR busy`. Refusals are logged rate-limited (a scan must
 * not flood the journal) and the socket is retired in fatal mode: it is never read.
 */
import net from 'node:net';
import type { Logger } from 'pino';
import { PinetdError, ProtocolError, errLine } from '../../errors.js';
import type { Protocol } from '../../config/options.js';
import { rateLimited, type RateLimitedLog } from '../../log/rate-limit.js';
import { createAllowList, PeerLimiter, type AllowList } from '../../net/access.js';
import type { CommandHost } from '../../protocol/commands.js';
import { realTimers, type Timers } from '../../util/timers.js';
import { Connection } from './connection.js';
import type { ConnectionDeps } from './deps.js';
import { retire } from './retire.js';
import { ServingClock } from './serving-clock.js';

export interface ServerOptions {
  readonly host: string;
  readonly port: number;
  readonly protocol: Protocol;
  readonly maxClients: number;
  /** listen(2) backlog; the kernel caps it at net.core.somaxconn. */
  readonly backlog?: number;
  readonly maxLine: number;
  readonly idleTimeoutMs: number;
  /** A request line must be complete this long after its first byte (0: no limit). */
  readonly lineTimeoutMs?: number;
  /** Who may connect (default: everyone). */
  readonly allow?: AllowList;
  /** Concurrent connections per remote address (0 or absent: no cap). */
  readonly maxClientsPerIp?: number;
  /** What one connection may make the daemon hold (see Connection). */
  readonly maxHeldBytes?: number;
  readonly commands: CommandHost;
  readonly log: Logger;
  readonly timers?: Timers;
  /** Requests received (for STATUS counters and the activity LED). */
  onRequests?(count: number): void;
  /** A connection read a chunk at `now` (timers.now()), after answering what it could. */
  onRead?(now: number): void;
  /** The number of admitted, not yet ended connections changed. */
  onClientCount?(count: number): void;
}

export const SHUTDOWN_NOTICE = 'SHUTDOWN';
const noop = (): void => {};
/**
 * Node's default is 511: a burst of 1000 connects overflows it and the kernel retries the
 * dropped SYNs only after 1 s. 1024 takes a 1000-connection storm at once.
 */
export const DEFAULT_BACKLOG = 1024;
/** 98 stalled readers of 4000-byte GETs stay within 32 MB of RSS (test/bench/stalled-readers.mjs). */
export const DEFAULT_MAX_HELD_BYTES = 96 * 1024;
export const DEFAULT_LINE_TIMEOUT_MS = 30_000;

export class PinetdServer {
  readonly #opts: ServerOptions;
  readonly #timers: Timers;
  readonly #clock: ServingClock;
  readonly #server: net.Server;
  readonly #live = new Set<Connection>();
  /** Every open socket, including ended and refused ones still flushing: close() ends them all. */
  readonly #sockets = new Set<net.Socket>();
  readonly #allow: AllowList;
  readonly #perIp: PeerLimiter;
  readonly #refusedLog: Record<'forbidden' | 'busy' | 'shutdown', RateLimitedLog>;
  /** What every connection gets: one object for all of them, not one per connection. */
  readonly #connDeps: ConnectionDeps;
  #draining = false;
  #closed = false;

  constructor(opts: ServerOptions) {
    this.#opts = opts;
    this.#timers = opts.timers ?? realTimers;
    this.#clock = new ServingClock(this.#timers);
    this.#allow = opts.allow ?? createAllowList([]);
    this.#perIp = new PeerLimiter(opts.maxClientsPerIp ?? 0);
    const limited = (): RateLimitedLog => rateLimited(opts.log, 'info', { timers: this.#timers });
    this.#refusedLog = { forbidden: limited(), busy: limited(), shutdown: limited() };
    this.#connDeps = {
      protocol: opts.protocol,
      maxLine: opts.maxLine,
      idleTimeoutMs: opts.idleTimeoutMs,
      lineTimeoutMs: opts.lineTimeoutMs ?? DEFAULT_LINE_TIMEOUT_MS,
      maxHeldBytes: opts.maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES,
      commands: opts.commands,
      log: opts.log,
      timers: this.#timers,
      clock: this.#clock,
      onRequests: opts.onRequests ?? noop,
      onRead: opts.onRead ?? noop,
      onEnded: (c) => {
        if (this.#live.delete(c)) opts.onClientCount?.(this.#live.size);
      },
      onClosed: (c) => {
        this.#sockets.delete(c.socket);
        // The slot is the address's until the socket is gone (a retiring socket still holds one).
        // remoteAddress is Node's cached getpeername() from the accept, so it outlives the handle.
        this.#perIp.release(c.socket.remoteAddress);
        opts.log.info({ remote: c.remote }, 'client disconnected');
      },
    };
    // pauseOnConnect: a refused socket is never read; an admitted one is resumed by its Connection.
    // allowHalfOpen: a client may send its requests and FIN, and still get every answer.
    this.#server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true, noDelay: true }, this.#onConnection);
    this.#server.on('error', (err) => opts.log.error({ err }, 'server error'));
  }

  /** Admitted connections the server has not ended. */
  get clients(): number {
    return this.#live.size;
  }

  listen(): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const why = err.code === 'EADDRINUSE' ? 'address already in use' : err.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : err.code ?? err.message;
        reject(new PinetdError('PINETD_E_LISTEN', `cannot listen on ${this.#opts.host}:${this.#opts.port}: ${why}`, { cause: err }));
      };
      this.#server.once('error', onError);
      this.#server.listen({ host: this.#opts.host, port: this.#opts.port, backlog: this.#opts.backlog ?? DEFAULT_BACKLOG }, () => {
        this.#server.off('error', onError);
        if (this.#closed) this.#server.close(); // close() ran while we were binding
        resolve(this.#server.address() as net.AddressInfo);
      });
    });
  }

  /** Stop answering every connection (and hold new ones) for a pause. */
  pause(): void {
    this.#clock.hold();
    for (const conn of this.#live) conn.hold();
  }

  resume(): void {
    const waiting: Connection[] = [];
    for (const conn of this.#live) if (conn.release()) waiting.push(conn);
    // After the connections: a timeout that came due during the pause may end one now.
    this.#clock.release();
    // What came during the pause is answered once every client is let go, in one microtask
    // for all (Node's queueMicrotask makes an AsyncResource per call).
    if (waiting.length > 0) {
      queueMicrotask(() => {
        for (const conn of waiting) conn.answerHeld();
      });
    }
  }

  /** Tell everyone SHUTDOWN; from now on new clients are told the same and closed. */
  drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    for (const conn of this.#live) conn.notice(SHUTDOWN_NOTICE);
  }

  /** Push a line (with its newline) to every subscribed connection. */
  publish(line: string): void {
    for (const conn of this.#live) if (conn.session.subscribed) conn.push(line);
  }

  /** Stop listening and destroy every connection. Idempotent. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const conn of [...this.#live]) conn.destroy();
    for (const socket of this.#sockets) socket.destroy();
    return new Promise((resolve) => {
      if (!this.#server.listening) return resolve();
      this.#server.close(() => resolve());
    });
  }

  #onConnection = (socket: net.Socket): void => {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    // Per connection as few closures and listeners as will do: 1000 idle clients are 1000 of each.
    this.#sockets.add(socket);
    const address = socket.remoteAddress;
    if (!this.#allow.allows(address)) return this.#refuse(socket, 'forbidden', 'not in --allow', errLine(ProtocolError.FORBIDDEN));
    if (this.#draining) return this.#refuse(socket, 'shutdown', 'shutting down', SHUTDOWN_NOTICE);
    if (this.#live.size >= this.#opts.maxClients) return this.#refuse(socket, 'busy', 'max clients', errLine(ProtocolError.BUSY));
    if (!this.#perIp.acquire(address)) return this.#refuse(socket, 'busy', 'max clients per address', errLine(ProtocolError.BUSY));
    const conn = new Connection(socket, this.#connDeps, this.#clock.held);
    this.#live.add(conn);
    this.#opts.log.info({ remote: conn.remote, clients: this.#live.size }, 'client connected');
    this.#opts.onClientCount?.(this.#live.size);
  };

  #refuse(socket: net.Socket, reason: 'forbidden' | 'busy' | 'shutdown', why: string, line: string): void {
    // No Connection listens on a refused socket: a reset while it retires must not throw.
    socket.on('error', noop);
    socket.on('close', () => this.#sockets.delete(socket));
    this.#refusedLog[reason]({ remote: `${socket.remoteAddress}:${socket.remotePort}`, reason: why }, 'connection refused');
    // Refused clients get one line and are closed unread; they never count as clients.
    retire(socket, this.#timers, this.#opts.protocol === 'lines' ? `${line}\n` : line, reason === 'shutdown' ? 'graceful' : 'fatal');
  }
}
