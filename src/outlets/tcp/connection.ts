/**
 * One client connection: framing, in-order responses, pause/backpressure, idle timeout.
 *
 * Its lifecycle is one state field (after Go's net/http ConnState):
 *
 *   active ⇄ held            reading / held unread by the pause cycle
 *   active|held → closing    we ended it (QUIT, idle, line too long, shutdown): flushing
 *   any → closed             the socket is gone
 *
 * Backpressure is a separate, write-side fact (`#awaitingDrain`): reading also stops while
 * the socket refuses data. Responses are produced synchronously per received chunk and
 * written in one `write`, so they are always in request order and a pushed line can never
 * land inside another one. Held bytes stay in the socket/kernel buffers: TCP flow control
 * bounds them, not our heap.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { ProtocolError, errLine } from '../../errors.js';
import { handleLine, type CommandHost, type Session } from '../../protocol/commands.js';
import { LineParser } from '../../protocol/line-parser.js';
import type { Protocol } from '../../config/options.js';
import type { TimerHandle, Timers } from '../../util/timers.js';
import { retire } from './retire.js';

export type ConnState = 'active' | 'held' | 'closing' | 'closed';

export interface ConnectionDeps {
  readonly protocol: Protocol;
  readonly maxLine: number;
  readonly idleTimeoutMs: number;
  /**
   * Cap on output queued to one client: answering pauses there until it drains, and a
   * subscriber whose pushes would pass it is dropped.
   */
  readonly maxPendingOutput: number;
  readonly commands: CommandHost;
  readonly log: Logger;
  readonly timers: Timers;
  /** Requests answered, once per batch (STATUS counters, the activity LED). */
  onRequests(count: number): void;
  /** The server ended or lost this connection: it stops counting toward --max-clients. */
  onEnded(conn: Connection): void;
}

export class Connection {
  readonly socket: Socket;
  readonly remote: string;
  readonly session: Session = { quit: false, subscribed: false };
  readonly #deps: ConnectionDeps;
  readonly #parser: LineParser;
  #state: ConnState;
  #awaitingDrain = false;
  /** Lines read but not yet answered (output was over the cap); bounded by one read. */
  #queue: string[] = [];
  #queued = 0;
  #tooLong = false;
  #peerEnded = false;
  #lastActivity: number;
  #heldAt = 0;
  #idleTimer: TimerHandle | undefined;

  constructor(socket: Socket, deps: ConnectionDeps, held: boolean) {
    this.socket = socket;
    this.#deps = deps;
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.#parser = new LineParser(deps.maxLine);
    this.#lastActivity = deps.timers.now();
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    socket.on('data', this.#onData);
    socket.on('end', this.#onPeerEnd);
    socket.on('drain', this.#onDrain);
    socket.on('error', this.#onError);
    socket.once('close', this.#onClose);
    // The server accepts with pauseOnConnect, so nothing is read until we say so.
    this.#state = 'active';
    if (held) this.hold();
    else {
      socket.resume();
      this.#armIdle(deps.idleTimeoutMs);
    }
  }

  get state(): ConnState {
    return this.#state;
  }

  /** The pause cycle holds the connection: nothing is read or answered, idle time stops. */
  hold(): void {
    if (this.#state !== 'active') return;
    this.#state = 'held';
    this.socket.pause();
    this.#heldAt = this.#deps.timers.now();
    this.#clearIdle();
  }

  release(): void {
    if (this.#state !== 'held') return;
    this.#state = 'active';
    const now = this.#deps.timers.now();
    // Time spent held does not count toward the idle timeout.
    this.#lastActivity += now - this.#heldAt;
    this.#armIdle(Math.max(0, this.#deps.idleTimeoutMs - (now - this.#lastActivity)));
    // Still waiting for 'drain'? Then the drain handler continues the queue, not us.
    if (!this.#awaitingDrain) this.#work();
    this.#resumeReading();
  }

  /** A server notice (SHUTDOWN): a line in `lines` mode, bare text in `echo` mode. */
  notice(text: string): void {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    this.socket.write(this.#deps.protocol === 'lines' ? `${text}\n` : text);
  }

  /** Pushes a line to a subscriber; drops a subscriber that lets its output pile up. */
  push(line: string): void {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    if (this.socket.writableLength + Buffer.byteLength(line) > this.#deps.maxPendingOutput) {
      this.#deps.log.warn({ remote: this.remote, pendingBytes: this.socket.writableLength }, 'subscriber not reading: output cap reached, dropping connection');
      this.destroy();
      return;
    }
    this.socket.write(line);
  }

  /** Ends the connection from our side, optionally after a last line. Idempotent. */
  end(lastLine?: string): void {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    this.#state = 'closing';
    this.#clearIdle();
    const text = lastLine === undefined ? undefined : this.#deps.protocol === 'lines' ? `${lastLine}\n` : lastLine;
    retire(this.socket, this.#deps.timers, text);
    this.#deps.onEnded(this);
  }

  destroy(): void {
    this.#clearIdle();
    this.socket.destroy();
    this.#closed();
  }

  #resumeReading(): void {
    if (this.#state === 'active' && !this.#awaitingDrain) this.socket.resume();
  }

  #closed(): void {
    const wasCounted = this.#state !== 'closing' && this.#state !== 'closed';
    this.#state = 'closed';
    if (wasCounted) this.#deps.onEnded(this);
  }

  #onData = (chunk: Buffer): void => {
    this.#lastActivity = this.#deps.timers.now();
    if (this.#deps.protocol === 'echo') {
      if (!this.socket.write(chunk) || this.socket.writableLength >= this.#deps.maxPendingOutput) this.#waitForDrain();
      this.#deps.onRequests(1);
      return;
    }
    const { lines, tooLong } = this.#parser.push(chunk);
    this.#enqueue(lines, tooLong);
  };

  #waitForDrain(): void {
    this.#awaitingDrain = true;
    this.socket.pause();
  }

  #enqueue(lines: string[], tooLong: boolean): void {
    if (this.#queued === this.#queue.length) {
      this.#queue = lines;
      this.#queued = 0;
    } else {
      this.#queue.push(...lines);
    }
    this.#tooLong ||= tooLong;
    this.#work();
  }

  /**
   * Answers queued lines in batches of at most the output cap. One read of small requests
   * (`GET` of a large value, `STATUS`) must not become megabytes of heap: once the socket
   * stops taking data (write() returns false) the rest waits for 'drain', with reading held.
   * Nothing is answered while the pause cycle holds the connection.
   */
  #work(): void {
    if (this.#state !== 'active') return;
    const cap = this.#deps.maxPendingOutput;
    while (this.#queued < this.#queue.length) {
      let out = '';
      const first = this.#queued;
      while (this.#queued < this.#queue.length && out.length < cap) {
        const line = this.#queue[this.#queued]!;
        this.#queued += 1;
        out += `${handleLine(line, this.#deps.commands, this.session)}\n`;
        if (this.session.quit) break;
      }
      // Once per batch, not per line: this is the hot path.
      this.#deps.onRequests(this.#queued - first);
      const flushed = this.socket.write(out);
      if (this.session.quit) {
        this.end();
        return;
      }
      if (!flushed) {
        this.#waitForDrain(); // 'drain' resumes this loop
        return;
      }
    }
    this.#queue = [];
    this.#queued = 0;
    if (this.#tooLong) {
      this.#deps.log.info({ remote: this.remote, maxLine: this.#deps.maxLine }, 'request line too long, closing');
      this.end(errLine(ProtocolError.LINE_TOO_LONG));
    } else if (this.#peerEnded) {
      this.end();
    }
  }

  #onPeerEnd = (): void => {
    // The client half-closed: answer what it sent (a last line without `\n` counts), then close.
    if (this.#deps.protocol === 'lines' && (this.#state === 'active' || this.#state === 'held')) {
      this.#peerEnded = true;
      const { lines, tooLong } = this.#parser.end();
      this.#enqueue(lines, tooLong);
      return;
    }
    this.end();
  };

  /** The socket took its queued output: continue answering, then reading. */
  #onDrain = (): void => {
    if (!this.#awaitingDrain) return;
    this.#awaitingDrain = false;
    this.#work();
    this.#resumeReading();
  };

  #onError = (err: NodeJS.ErrnoException): void => {
    // Resets and broken pipes are ordinary client behaviour, not daemon faults.
    this.#deps.log.debug({ remote: this.remote, code: err.code }, 'connection error');
  };

  #onClose = (): void => {
    this.#clearIdle();
    this.socket.off('data', this.#onData);
    this.socket.off('end', this.#onPeerEnd);
    this.socket.off('drain', this.#onDrain);
    this.#closed();
  };

  #armIdle(delay: number): void {
    if (this.#deps.idleTimeoutMs === 0 || this.#state !== 'active') return;
    this.#clearIdle();
    this.#idleTimer = this.#deps.timers.setTimeout(this.#onIdleTimer, delay);
    this.#idleTimer.unref();
  }

  #clearIdle(): void {
    this.#deps.timers.clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  /** Lazy idle check: data only stamps a time; the timer re-arms for the remainder. */
  #onIdleTimer = (): void => {
    this.#idleTimer = undefined;
    if (this.#state !== 'active') return;
    const now = this.#deps.timers.now();
    // A subscriber is silent by design: it waits for pushes (TCP keepalive catches dead peers).
    if (this.session.subscribed) this.#lastActivity = now;
    const silent = now - this.#lastActivity;
    if (silent < this.#deps.idleTimeoutMs) {
      this.#armIdle(this.#deps.idleTimeoutMs - silent);
      return;
    }
    this.#deps.log.info({ remote: this.remote, idleMs: silent }, 'idle timeout, closing');
    this.end(errLine(ProtocolError.IDLE_TIMEOUT));
  };
}
