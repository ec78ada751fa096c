/**
 * The HTTP listener: a node:http server with its limits. Who may connect (`--allow`), how
 * many at once (`--http-max-clients`) and per address (`--max-clients-per-ip`) is decided
 * when the TCP connection arrives, before a byte is parsed; a refused connection gets one
 * short response and is closed. Header, request and keep-alive timeouts bound slow peers.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import { PinetdError } from '../../errors.js';
import { rateLimited } from '../../log/rate-limit.js';
import { PeerLimiter, type AllowList } from '../../net/access.js';
import { realTimers, type Timers } from '../../util/timers.js';

export interface HttpTimeouts {
  /** Until the request headers are in (slowloris). */
  readonly headersMs: number;
  /** Until the whole request is in. */
  readonly requestMs: number;
  /** An idle keep-alive connection is closed after this. */
  readonly keepAliveMs: number;
  /** How often node checks the two above (its own interval, only while listening). */
  readonly checkEveryMs: number;
}

export const DEFAULT_TIMEOUTS: HttpTimeouts = { headersMs: 10_000, requestMs: 15_000, keepAliveMs: 5_000, checkEveryMs: 1_000 };
/** A refused connection's response must be flushed by then, or the socket is destroyed. */
const REFUSE_FLUSH_MS = 1_000;

export interface ListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly maxClients: number;
  /** Per remote address; 0 = no cap. */
  readonly maxPerAddress: number;
  readonly allow: AllowList;
  readonly log: Logger;
  readonly timers?: Timers;
  readonly timeouts?: HttpTimeouts;
  readonly handler: (req: http.IncomingMessage, res: http.ServerResponse) => void;
}

export class HttpListener {
  readonly #opts: ListenerOptions;
  readonly #timers: Timers;
  readonly #server: http.Server;
  readonly #peers: PeerLimiter;
  readonly #sockets = new Set<Socket>();
  /** Sockets answered at admission: their requests, if any get parsed, are ignored. */
  readonly #refused = new WeakSet<Socket>();
  readonly #logRefused: ReturnType<typeof rateLimited>;
  #closed = false;

  constructor(opts: ListenerOptions) {
    this.#opts = opts;
    this.#timers = opts.timers ?? realTimers;
    this.#peers = new PeerLimiter(opts.maxPerAddress);
    this.#logRefused = rateLimited(opts.log, 'info', { timers: this.#timers });
    const t = opts.timeouts ?? DEFAULT_TIMEOUTS;
    this.#server = http.createServer(
      {
        headersTimeout: t.headersMs,
        requestTimeout: t.requestMs,
        keepAliveTimeout: t.keepAliveMs,
        connectionsCheckingInterval: t.checkEveryMs,
        maxHeaderSize: 8192,
        noDelay: true,
      },
      (req, res) => {
        if (this.#refused.has(req.socket)) return;
        opts.handler(req, res);
      },
    );
    // Runs after node's own connection listener has attached the parser.
    this.#server.on('connection', this.#admit);
    // Malformed or too slow requests: answered like node's default (400/408/431), then closed.
    this.#server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code?.startsWith('HPE_') ? '400 Bad Request' : undefined;
      if (status === undefined || !socket.writable || this.#refused.has(socket)) return void socket.destroy();
      socket.end(rawResponse(status, status.slice(4).toLowerCase()));
      socket.destroySoon();
    });
    this.#server.on('error', (err) => opts.log.error({ err }, 'http server error'));
  }

  /** Open TCP connections (admitted ones). */
  get connections(): number {
    return this.#sockets.size;
  }

  listen(): Promise<AddressInfo> {
    const { host, port } = this.#opts;
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const why = err.code === 'EADDRINUSE' ? 'address already in use' : err.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : err.code ?? err.message;
        reject(new PinetdError('PINETD_E_LISTEN', `cannot listen for HTTP on ${host}:${port}: ${why}`, { cause: err }));
      };
      this.#server.once('error', onError);
      this.#server.listen({ host, port }, () => {
        this.#server.off('error', onError);
        if (this.#closed) this.#server.close();
        resolve(this.#server.address() as AddressInfo);
      });
    });
  }

  /** Stops listening and ends every connection (streams were told `shutdown` before). */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    return new Promise((resolve) => {
      if (!this.#server.listening) return resolve();
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
      for (const socket of this.#sockets) socket.destroy();
    });
  }

  forceClose(): void {
    void this.close();
  }

  #admit = (socket: Socket): void => {
    const remote = socket.remoteAddress;
    const reason = this.#closed
      ? 'closing'
      : !this.#opts.allow.allows(remote)
        ? 'forbidden'
        : this.#sockets.size >= this.#opts.maxClients
          ? 'max clients'
          : !this.#peers.acquire(remote)
            ? 'max clients per address'
            : undefined;
    if (reason !== undefined) return this.#refuse(socket, reason);
    this.#sockets.add(socket);
    socket.once('close', () => {
      this.#sockets.delete(socket);
      this.#peers.release(remote);
    });
  };

  #refuse(socket: Socket, reason: string): void {
    this.#refused.add(socket);
    socket.on('error', () => {});
    this.#logRefused({ remote: `${socket.remoteAddress}:${socket.remotePort}`, reason }, 'http connection refused');
    if (reason === 'closing') return void socket.destroy();
    socket.end(reason === 'forbidden' ? rawResponse('403 Forbidden', 'forbidden') : rawResponse('503 Service Unavailable', 'busy', 'Retry-After: 5\r\n'));
    const timer = this.#timers.setTimeout(() => socket.destroy(), REFUSE_FLUSH_MS);
    socket.once('close', () => this.#timers.clearTimeout(timer));
  }
}

/** A complete response written before (or instead of) parsing the request. */
function rawResponse(status: string, body: string, extra = ''): string {
  return (
    `HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body) + 1}\r\n` +
    `Content-Security-Policy: default-src 'self'\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n${extra}Connection: close\r\n\r\n${body}\n`
  );
}
