/**
 * The TCP side: accepts, admits or refuses (busy / shutting down), tracks connections, and
 * applies daemon-wide actions to all of them (pause, resume, SHUTDOWN notice, pushes, close).
 */
import net from 'node:net';
import type { Logger } from 'pino';
import { PinetdError, ProtocolError, errLine } from '../../errors.js';
import type { Protocol } from '../../config/options.js';
import type { CommandHost } from '../../protocol/commands.js';
import { realTimers, type Timers } from '../../util/timers.js';
import { Connection } from './connection.js';
import { retire } from './retire.js';

export interface ServerOptions {
  readonly host: string;
  readonly port: number;
  readonly protocol: Protocol;
  readonly maxClients: number;
  /** listen(2) backlog; the kernel caps it at net.core.somaxconn. */
  readonly backlog?: number;
  readonly maxLine: number;
  readonly idleTimeoutMs: number;
  readonly maxPendingOutput?: number;
  readonly commands: CommandHost;
  readonly log: Logger;
  readonly timers?: Timers;
  /** Requests received (for STATUS counters and the activity LED). */
  onRequests?(count: number): void;
  /** The number of admitted, not yet ended connections changed. */
  onClientCount?(count: number): void;
}

export const SHUTDOWN_NOTICE = 'SHUTDOWN';
/**
 * Node's default is 511: a burst of 1000 connects overflows it and the kernel retries the
 * dropped SYNs only after 1 s. 1024 takes a 1000-connection storm at once.
 */
export const DEFAULT_BACKLOG = 1024;
const DEFAULT_MAX_PENDING_OUTPUT = 256 * 1024;

export class PinetdServer {
  readonly #opts: ServerOptions;
  readonly #timers: Timers;
  readonly #server: net.Server;
  readonly #live = new Set<Connection>();
  /** Every open socket, including ended and refused ones still flushing: close() ends them all. */
  readonly #sockets = new Set<net.Socket>();
  #held = false;
  #draining = false;
  #closed = false;

  constructor(opts: ServerOptions) {
    this.#opts = opts;
    this.#timers = opts.timers ?? realTimers;
    // pauseOnConnect: a connection accepted during a pause is held unread.
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

  /** Stop reading every connection (and hold new ones) for a pause. */
  pause(): void {
    this.#held = true;
    for (const conn of this.#live) conn.hold();
  }

  resume(): void {
    this.#held = false;
    for (const conn of this.#live) conn.release();
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
    const { log } = this.#opts;
    if (this.#closed) {
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    if (this.#draining || this.#live.size >= this.#opts.maxClients) {
      const line = this.#draining ? SHUTDOWN_NOTICE : errLine(ProtocolError.BUSY);
      log.info({ remote: `${socket.remoteAddress}:${socket.remotePort}`, reason: this.#draining ? 'shutting down' : 'max clients' }, 'connection refused');
      // Refused clients get one line and are closed; they never count as clients.
      socket.on('error', () => {});
      retire(socket, this.#timers, this.#opts.protocol === 'lines' ? `${line}\n` : line);
      return;
    }
    const conn = new Connection(
      socket,
      {
        protocol: this.#opts.protocol,
        maxLine: this.#opts.maxLine,
        idleTimeoutMs: this.#opts.idleTimeoutMs,
        maxPendingOutput: this.#opts.maxPendingOutput ?? DEFAULT_MAX_PENDING_OUTPUT,
        commands: this.#opts.commands,
        log,
        timers: this.#timers,
        onRequests: (n) => this.#opts.onRequests?.(n),
        onEnded: (c) => {
          if (this.#live.delete(c)) this.#opts.onClientCount?.(this.#live.size);
        },
      },
      this.#held,
    );
    this.#live.add(conn);
    socket.once('close', () => log.info({ remote: conn.remote }, 'client disconnected'));
    log.info({ remote: conn.remote, clients: this.#live.size }, 'client connected');
    this.#opts.onClientCount?.(this.#live.size);
  };
}
