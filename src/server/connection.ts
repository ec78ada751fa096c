/**
 * One client connection: framing, in-order responses, pause/backpressure, idle timeout.
 *
 * Responses are produced synchronously per received chunk and written in one `write`, so
 * they are always in request order and a pushed line can never land inside another one.
 * Reading stops for two independent reasons (the pause cycle, and a peer that does not read
 * its responses); it resumes only when neither holds. Held bytes stay in the socket/kernel
 * buffers: TCP flow control bounds them, not our heap.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { ProtocolError, errLine } from '../errors.js';
import { handleLine, type CommandHost, type Session } from '../protocol/commands.js';
import { LineParser } from '../protocol/line-parser.js';
import type { Protocol } from '../config/options.js';

export const HOLD_CYCLE = 1;
export const HOLD_BACKPRESSURE = 2;

/** How long a server-ended connection may take to flush before it is destroyed. */
const END_FLUSH_MS = 2000;

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
  readonly now: () => number;
  /** Called for every request (for STATUS counters and the activity LED). */
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
  #holds = 0;
  #ended = false;
  /** Lines read but not yet answered (output was over the cap); bounded by one read. */
  #queue: string[] = [];
  #queued = 0;
  #tooLong = false;
  #peerEnded = false;
  #lastActivity: number;
  #pausedAt = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #flushTimer: NodeJS.Timeout | undefined;

  constructor(socket: Socket, deps: ConnectionDeps, held: boolean) {
    this.socket = socket;
    this.#deps = deps;
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.#parser = new LineParser(deps.maxLine);
    this.#lastActivity = deps.now();
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    socket.on('data', this.#onData);
    socket.on('end', this.#onPeerEnd);
    socket.on('drain', this.#onDrain);
    socket.on('error', this.#onError);
    socket.once('close', this.#onClose);
    // The server accepts with pauseOnConnect, so nothing is read until we say so.
    if (held) this.hold(HOLD_CYCLE);
    else {
      socket.resume();
      this.#armIdle(deps.idleTimeoutMs);
    }
  }

  hold(reason: number): void {
    if (this.#holds === 0) {
      this.socket.pause();
      if (reason === HOLD_CYCLE) this.#suspendIdle();
    } else if (reason === HOLD_CYCLE && !(this.#holds & HOLD_CYCLE)) {
      this.#suspendIdle();
    }
    this.#holds |= reason;
  }

  release(reason: number): void {
    if (!(this.#holds & reason)) return;
    this.#holds &= ~reason;
    if (reason === HOLD_CYCLE) {
      // Time spent paused does not count toward the idle timeout.
      this.#lastActivity += this.#deps.now() - this.#pausedAt;
      this.#armIdle(Math.max(0, this.#deps.idleTimeoutMs - (this.#deps.now() - this.#lastActivity)));
    }
    // Still waiting for 'drain'? Then the drain handler continues the queue, not us.
    if (this.#queued < this.#queue.length && !(this.#holds & HOLD_BACKPRESSURE)) this.#work();
    if (this.#holds === 0 && !this.#ended) this.socket.resume();
  }

  /** A server notice (SHUTDOWN): a line in `lines` mode, bare text in `echo` mode. */
  notice(text: string): void {
    if (this.#ended || this.socket.destroyed) return;
    this.socket.write(this.#deps.protocol === 'lines' ? `${text}\n` : text);
  }

  /** Pushes a line to a subscriber; drops a subscriber that lets its output pile up. */
  push(line: string): void {
    if (this.#ended || this.socket.destroyed) return;
    if (this.socket.writableLength + Buffer.byteLength(line) > this.#deps.maxPendingOutput) {
      this.#deps.log.warn({ remote: this.remote, pendingBytes: this.socket.writableLength }, 'subscriber not reading: output cap reached, dropping connection');
      this.destroy();
      return;
    }
    this.socket.write(line);
  }

  /** Ends the connection from our side, optionally after a last line. Idempotent. */
  end(lastLine?: string): void {
    if (this.#ended) return;
    if (lastLine !== undefined) this.notice(lastLine);
    this.#ended = true;
    this.#clearIdle();
    // Read and discard from here on, so the peer's FIN is seen and the socket closes
    // promptly instead of lingering half-open (and never sending an RST over unread data).
    this.socket.off('data', this.#onData);
    this.socket.resume();
    this.socket.end();
    // A peer that never reads (or never closes) would keep the socket forever: destroy it
    // once a flush interval passes without progress; a slow but reading peer gets its data.
    let written = this.socket.bytesWritten;
    const check = (): void => {
      if (this.socket.writableLength > 0 && this.socket.bytesWritten > written) {
        written = this.socket.bytesWritten;
        this.#flushTimer = setTimeout(check, END_FLUSH_MS);
        this.#flushTimer.unref();
        return;
      }
      this.socket.destroy();
    };
    this.#flushTimer = setTimeout(check, END_FLUSH_MS);
    this.#flushTimer.unref();
    this.#deps.onEnded(this);
  }

  destroy(): void {
    this.#clearIdle();
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.socket.destroy();
    if (!this.#ended) {
      this.#ended = true;
      this.#deps.onEnded(this);
    }
  }

  #onData = (chunk: Buffer): void => {
    this.#lastActivity = this.#deps.now();
    if (this.#deps.protocol === 'echo') {
      if (!this.socket.write(chunk) || this.socket.writableLength >= this.#deps.maxPendingOutput) this.hold(HOLD_BACKPRESSURE);
      this.#deps.onRequests(1);
      return;
    }
    const { lines, tooLong } = this.#parser.push(chunk);
    this.#enqueue(lines, tooLong);
  };

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
    if (this.#ended || this.#holds & HOLD_CYCLE) return;
    const cap = this.#deps.maxPendingOutput;
    while (this.#queued < this.#queue.length) {
      let out = '';
      while (this.#queued < this.#queue.length && out.length < cap) {
        const line = this.#queue[this.#queued]!;
        this.#queued += 1;
        // Counted before answering, so a STATUS includes itself.
        this.#deps.onRequests(1);
        out += `${handleLine(line, this.#deps.commands, this.session)}\n`;
        if (this.session.quit) break;
      }
      const flushed = this.socket.write(out);
      if (this.session.quit) {
        this.end();
        return;
      }
      if (!flushed) {
        this.hold(HOLD_BACKPRESSURE); // released by 'drain', which also resumes this loop
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
    if (this.#deps.protocol === 'lines' && !this.#ended) {
      this.#peerEnded = true;
      const { lines, tooLong } = this.#parser.end();
      this.#enqueue(lines, tooLong);
      return;
    }
    this.end();
  };

  /** The socket took its queued output: continue answering (release() resumes the queue). */
  #onDrain = (): void => this.release(HOLD_BACKPRESSURE);

  #onError = (err: NodeJS.ErrnoException): void => {
    // Resets and broken pipes are ordinary client behaviour, not daemon faults.
    this.#deps.log.debug({ remote: this.remote, code: err.code }, 'connection error');
  };

  #onClose = (): void => {
    this.#clearIdle();
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.socket.off('data', this.#onData);
    this.socket.off('end', this.#onPeerEnd);
    this.socket.off('drain', this.#onDrain);
    if (!this.#ended) {
      this.#ended = true;
      this.#deps.onEnded(this);
    }
  };

  #suspendIdle(): void {
    this.#pausedAt = this.#deps.now();
    this.#clearIdle();
  }

  #armIdle(delay: number): void {
    if (this.#deps.idleTimeoutMs === 0 || this.#ended) return;
    this.#clearIdle();
    this.#idleTimer = setTimeout(this.#onIdleTimer, delay);
    this.#idleTimer.unref();
  }

  #clearIdle(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  /** Lazy idle check: data only stamps a time; the timer re-arms for the remainder. */
  #onIdleTimer = (): void => {
    this.#idleTimer = undefined;
    if (this.#holds & HOLD_CYCLE) return;
    // A subscriber is silent by design: it waits for pushes (TCP keepalive catches dead peers).
    if (this.session.subscribed) this.#lastActivity = this.#deps.now();
    const silent = this.#deps.now() - this.#lastActivity;
    if (silent < this.#deps.idleTimeoutMs) {
      this.#armIdle(this.#deps.idleTimeoutMs - silent);
      return;
    }
    this.#deps.log.info({ remote: this.remote, idleMs: silent }, 'idle timeout, closing');
    this.end(errLine(ProtocolError.IDLE_TIMEOUT));
  };
}
