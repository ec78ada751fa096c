/**
 * One client connection: framing, in-order responses, pause/backpressure, idle timeout.
 *
 * Its lifecycle is one state field (after Go's net/http ConnState):
 *
 *   active ⇄ held            answering / held by the pause cycle (one read kept, unanswered)
 *   active|held → closing    we ended it (QUIT, idle, line too long, shutdown): flushing
 *   any → closed             the socket is gone
 *
 * Backpressure is a separate, write-side fact (`#awaitingDrain`). Everything one connection
 * makes the daemon hold (its unanswered requests, kept as received bytes by the parser, at
 * most one socket read; the answer batch; the socket's write queue) counts against one cap,
 * `maxHeldBytes`: answering stops once the write queue plus the unanswered input reach it,
 * and nothing more is read until the queue has drained and every request read so far is
 * answered. (`socket.write()` returning false at its 16 KiB high-water mark is not that cap,
 * only a promise of 'drain'; batch.ts `pinned` keeps queued ECHO views within 4/3 of it.)
 * Answers go out in batches, in request order; a pushed line never lands inside one. Bytes
 * not read stay in the kernel's buffers: TCP flow control bounds them, not our heap.
 *
 * A request line must be complete within `lineTimeoutMs` of its first byte (the slow-loris
 * guard); time the connection is not read (a pause, waiting for 'drain') does not count.
 * Fatal errors (line-too-long, line-timeout) end it with `retire(..., 'fatal')`.
 */
import type { Socket } from 'node:net';
import { ProtocolError, errLine } from '../../errors.js';
import { newSession, type Session } from '../../protocol/commands.js';
import { LineParser } from '../../protocol/line-parser.js';
import { answerBatch } from './batch.js';
import type { ConnectionDeps } from './deps.js';
import { IdleClock, type IdleOwner } from './idle-clock.js';
import { LineClock, type LineClockOwner } from './line-clock.js';
import { retire, type RetireMode } from './retire.js';

/** The smallest answer batch worth a write (the socket's own high-water mark). */
const MIN_BATCH = 16 * 1024;

export type ConnState = 'active' | 'held' | 'closing' | 'closed';

// The socket's listeners are shared by every connection and find theirs through this key (an
// EventEmitter calls a listener with the emitter as `this`): closures per connection, here and
// in the clocks, were 1 KB of each idle client's heap (heap snapshots).
const CONN = Symbol('pinetd.connection');
interface OwnedSocket extends Socket {
  [CONN]?: Connection;
}

export class Connection implements IdleOwner, LineClockOwner {
  readonly socket: Socket;
  readonly remote: string;
  readonly session: Session;
  readonly #deps: ConnectionDeps;
  readonly #parser: LineParser;
  #state: ConnState = 'active';
  #awaitingDrain = false;
  /** We paused the socket (waiting for 'drain', or a second read while held). */
  #paused = false;
  #peerEnded = false;
  readonly #idleClock: IdleClock;
  readonly #lineClock: LineClock;

  constructor(socket: Socket, deps: ConnectionDeps, held: boolean) {
    this.socket = socket;
    this.#deps = deps;
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.session = newSession(deps.commands.access, socket.remoteAddress, this.remote);
    this.#parser = new LineParser(deps.maxLine);
    this.#lineClock = new LineClock(deps.lineTimeoutMs, deps.clock, this);
    this.#idleClock = new IdleClock(deps.idleTimeoutMs, deps.clock, this);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    (socket as OwnedSocket)[CONN] = this;
    socket.on('data', Connection.#onData);
    socket.on('end', Connection.#onPeerEnd);
    socket.on('drain', Connection.#onDrain);
    socket.on('error', Connection.#onError);
    socket.on('close', Connection.#onClose);
    socket.resume(); // the server accepts with pauseOnConnect
    this.#idleClock.start();
    if (held) this.#state = 'held';
  }

  get state(): ConnState {
    return this.#state;
  }

  /**
   * Held by the pause cycle: nothing is answered. The clocks count serving time, which stands
   * still then (serving-clock.ts), and the socket is not paused: it takes one read into the
   * parser (#read), so releasing the usual client is answering it, not a resume() per socket.
   */
  hold(): void {
    if (this.#state === 'active') this.#state = 'held';
  }

  /** Lets it go; true when what came meanwhile waits for answerHeld(), once all are let go. */
  release(): boolean {
    if (this.#state !== 'held') return false;
    this.#state = 'active';
    this.#resumeReading();
    // Still waiting for 'drain'? Then the drain handler continues the queue, not us.
    return !this.#awaitingDrain && (this.#parser.held > 0 || this.#peerEnded);
  }

  answerHeld(): void {
    if (!this.#awaitingDrain) this.#work();
  }

  /** A server notice (SHUTDOWN): a line in `lines` mode, bare text in `echo` mode. */
  notice(text: string): void {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    this.socket.write(this.#deps.protocol === 'lines' ? `${text}\n` : text);
  }

  /** Pushes a line to a subscriber; drops a subscriber that lets its output pile up. */
  push(line: string): void {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    // One line may be over the cap on its own (a reading of up to 64 KiB), never on top of a queue.
    const queued = this.socket.writableLength + this.#parser.held;
    if (queued > 0 && queued + Buffer.byteLength(line) > this.#deps.maxHeldBytes) {
      this.#deps.log.warn({ remote: this.remote, pendingBytes: this.socket.writableLength }, 'subscriber not reading: output cap reached, dropping connection');
      this.destroy();
      return;
    }
    this.socket.write(line);
  }

  /** Ends the connection from our side, optionally after a last line. Idempotent. */
  end(lastLine?: string, mode: RetireMode = 'graceful'): void {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    this.#state = 'closing';
    this.#clearTimers();
    const text = lastLine === undefined ? undefined : this.#deps.protocol === 'lines' ? `${lastLine}\n` : lastLine;
    retire(this.socket, this.#deps.timers, text, mode);
    this.#deps.onEnded(this);
  }

  destroy(): void {
    this.#clearTimers();
    this.socket.destroy();
    this.#closed();
  }

  #resumeReading(): void {
    if (this.#paused && this.#state === 'active' && !this.#awaitingDrain) {
      this.#paused = false;
      this.socket.resume();
    }
  }

  #closed(): void {
    const counted = this.#state !== 'closing' && this.#state !== 'closed';
    this.#state = 'closed';
    if (counted) this.#deps.onEnded(this);
  }

  static #onData(this: OwnedSocket, chunk: Buffer): void {
    const conn = this[CONN];
    if (conn !== undefined) conn.#read(chunk);
  }

  #read(chunk: Buffer): void {
    const now = this.#deps.timers.now();
    this.#idleClock.touch(this.#deps.clock.at(now));
    if (this.#state === 'held') {
      // The parser keeps one read (echo mode none); the rest goes back to the socket's buffer,
      // which stops reading at its high-water mark. The release's resume() replays it in order.
      if (this.#deps.protocol === 'lines' && this.#parser.held === this.#parser.buffered) this.#parser.push(chunk);
      else {
        this.#paused = true;
        this.socket.pause();
        this.socket.unshift(chunk);
      }
      return;
    }
    if (this.#deps.protocol === 'echo') {
      if (!this.socket.write(chunk) || this.socket.writableLength >= this.#deps.maxHeldBytes) this.#waitForDrain();
      this.#deps.onRequests(1);
    } else {
      this.#parser.push(chunk);
      this.#work();
    }
    this.#deps.onRead(now);
  }

  #waitForDrain(): void {
    this.#awaitingDrain = this.#paused = true;
    this.socket.pause();
    this.#lineClock.reading(false);
  }

  /**
   * Answers the parsed lines in batches within the cap. One read of small requests (`GET`
   * of a large value, `STATUS`) must not become megabytes of heap: once the write queue plus
   * the unanswered input reach the cap, the rest waits for 'drain', with reading held.
   * Nothing is answered while the pause cycle holds the connection.
   */
  #work(): void {
    if (this.#state !== 'active') return;
    const cap = this.#deps.maxHeldBytes;
    const parser = this.#parser;
    let answered = 0;
    let fatal: string | undefined;
    for (;;) {
      // At least a socket's high-water mark per batch, so a full read of small requests is
      // not answered one write per line.
      const room = Math.max(MIN_BATCH, cap - this.socket.writableLength - parser.held);
      const batch = answerBatch(parser, this.session, this.#deps.commands, room);
      answered += batch.answered;
      fatal = batch.fatal;
      if (batch.answered === 0 && fatal === undefined) break;
      const flushed = batch.data === undefined || this.socket.write(batch.data);
      if (fatal !== undefined || this.session.quit) break;
      // write() returning false only means a 'drain' will come; our cap is what counts.
      if (!flushed && this.socket.writableLength + parser.held >= cap) {
        // Once per batch, not per line: this is the hot path.
        this.#deps.onRequests(answered);
        this.#lineClock.lineTaken();
        this.#waitForDrain(); // 'drain' resumes this loop
        return;
      }
      if (batch.dry) break;
    }
    if (answered > 0) {
      this.#deps.onRequests(answered);
      this.#lineClock.lineTaken();
    }
    if (fatal !== undefined) {
      this.#deps.log.info({ remote: this.remote, maxLine: this.#deps.maxLine }, 'request line too long, closing');
      this.end(fatal, 'fatal');
    } else if (this.session.quit) {
      this.end();
    } else if (this.#peerEnded) {
      this.end();
    } else {
      this.#lineClock.track(this.#parser.buffered, this.#idleClock.lastActivity);
    }
  }

  /** The line clock's report (LineClockOwner); not for other callers. */
  onLineTimeout(): void {
    if (this.#state !== 'active') return;
    this.#deps.log.info({ remote: this.remote, lineTimeoutMs: this.#deps.lineTimeoutMs, bufferedBytes: this.#parser.buffered }, 'request line not completed in time, closing');
    this.end(errLine(ProtocolError.LINE_TIMEOUT), 'fatal');
  }

  /** The client half-closed: answer what it sent (a last line without `\n` counts), then close. */
  static #onPeerEnd(this: OwnedSocket): void {
    const conn = this[CONN];
    if (conn === undefined) return;
    if (conn.#deps.protocol === 'lines' && (conn.#state === 'active' || conn.#state === 'held')) {
      conn.#peerEnded = true;
      conn.#parser.end();
      if (!conn.#awaitingDrain) conn.#work();
    } else conn.end();
  }

  /** The socket took its queued output: continue answering, then reading. */
  static #onDrain(this: OwnedSocket): void {
    const conn = this[CONN];
    if (conn === undefined || !conn.#awaitingDrain) return;
    conn.#awaitingDrain = false;
    conn.#lineClock.reading(true);
    conn.#work();
    conn.#resumeReading();
  }

  static #onError(this: OwnedSocket, err: NodeJS.ErrnoException): void {
    // Resets and broken pipes are ordinary client behaviour, not daemon faults.
    const conn = this[CONN];
    if (conn !== undefined) conn.#deps.log.debug({ remote: conn.remote, code: err.code }, 'connection error');
  }

  static #onClose(this: OwnedSocket): void {
    const conn = this[CONN];
    if (conn === undefined) return;
    conn.#clearTimers();
    this.off('data', Connection.#onData);
    this.off('end', Connection.#onPeerEnd);
    this.off('drain', Connection.#onDrain);
    conn.#closed();
    conn.#deps.onClosed(conn);
  }

  #clearTimers(): void {
    this.#idleClock.close();
    this.#lineClock.close();
  }

  /** The idle clock's report (IdleOwner); not for other callers. */
  onIdle(silentMs: number): void {
    if (this.#state !== 'active') return;
    this.#deps.log.info({ remote: this.remote, idleMs: silentMs }, 'idle timeout, closing');
    this.end(errLine(ProtocolError.IDLE_TIMEOUT));
  }

  /** A subscriber is silent by design while it waits for pushes: never idle (IdleOwner). */
  get idleExempt(): boolean {
    return this.session.subscribed;
  }
}
