/**
 * Pure line framing: bytes in, lines out one at a time, length-capped and UTF-8 checked
 * (after nats.js's parser). No sockets, no timers: every edge (split terminators, CRLF across
 * chunks, the cap, a multi-byte character split across chunks) is testable byte by byte.
 *
 * A line ends at `\n`; one trailing `\r` is stripped. `maxLine` counts the line's bytes
 * without its terminator. Once a line is over the cap the parser reports it and stops (the
 * connection is closed), so a peer that never sends `\n` costs at most maxLine+1 bytes.
 *
 * Pull, not push: `push` only keeps the chunk, `next` cuts the next line out of it when the
 * caller is ready to answer it. Unanswered requests therefore stay as the received bytes (at
 * most one socket read), never as an array of strings, and a caller that stops answering
 * (its peer does not read) stops reading too.
 *
 * UTF-8: the chunk is validated once (`isUtf8`, SIMD in Node); a line that lies inside a
 * valid chunk needs no check of its own (`\n` never occurs inside a multi-byte sequence).
 * Lines that span chunks, or come from a chunk that is not valid as a whole, are checked on
 * their own bytes. A line that is not valid UTF-8 is reported, not decoded: decoding would
 * replace bytes with U+FFFD and make different keys collide.
 *
 * Short lines come as strings, long ones as bytes (`nextLine`): pipelined small requests are
 * the hot path, and a Buffer view plus a decode per line cost ten times what slicing a string
 * does (330 vs 30 ns a line, measured). A chunk that is pure ASCII (`isAscii`, SIMD) is decoded
 * a window of at most WINDOW bytes at a time, and its short lines are slices of that text (byte
 * and character offsets agree); the window bounds what a held connection keeps beside its
 * chunk. Long lines stay bytes so the caller can answer an ECHO without decoding it: as
 * positions in the read (IN_SOURCE) when they lie in one.
 */
import { isAscii, isUtf8 } from 'node:buffer';

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);
/** Lines shorter than this (in bytes) come out of nextLine() as strings. */
export const TEXT_MAX = 256;
/** Bytes of an ASCII chunk decoded at a time (at least TEXT_MAX, so a short line fits). */
const WINDOW = 1024;

/** The line was over the cap; the parser has stopped. */
export const TOO_LONG: unique symbol = Symbol('line-too-long');
/** The line's bytes are not valid UTF-8; parsing goes on with the next line. */
export const INVALID_UTF8: unique symbol = Symbol('invalid-utf8');
export type ParsedLine = string | typeof TOO_LONG | typeof INVALID_UTF8;
/**
 * nextLine(): a long line (TEXT_MAX bytes or more) that lies in one read, at
 * `lineSource[lineStart, lineEnd)`. Positions, not a view: a Buffer view per line was a
 * third of a 1 KiB ECHO load (CPU profile: the FastBuffer constructor).
 */
export const IN_SOURCE: unique symbol = Symbol('line-in-source');
/** nextLine(): a short line as text, a long one as IN_SOURCE, or as bytes when it spanned reads. */
export type ParsedMixed = string | Buffer | typeof IN_SOURCE | typeof TOO_LONG | typeof INVALID_UTF8;

export class LineParser {
  readonly #maxLine: number;
  /** The chunk being cut into lines, from #pos on. */
  #chunk: Buffer = EMPTY;
  #pos = 0;
  #chunkUtf8 = true;
  #chunkAscii = true;
  /** Text of the chunk's bytes [#winStart, #winStart + #win.length), when it is ASCII. */
  #win = '';
  #winStart = 0;
  /** Copied bytes of a line whose terminator has not come yet. */
  #pending: Buffer[] = [];
  #pendingLength = 0;
  #ended = false;
  #failed = false;
  /** The last IN_SOURCE line: kept apart from #chunk, which is let go when its last line is taken. */
  #lineSource: Buffer = EMPTY;
  #lineStart = 0;
  #lineEnd = 0;

  constructor(maxLine: number) {
    if (!Number.isInteger(maxLine) || maxLine < 1) throw new RangeError(`maxLine must be a positive integer, got ${maxLine}`);
    this.#maxLine = maxLine;
  }

  /** Bytes held for a line not yet terminated (after next() returned undefined). */
  get buffered(): number {
    return this.#pendingLength;
  }

  /** Every byte received and not yet handed out as a line: what the parser holds. */
  get held(): number {
    return this.#chunk.length - this.#pos + this.#pendingLength;
  }

  /** The read the last IN_SOURCE line lies in: read it right after nextLine() returned IN_SOURCE. */
  get lineSource(): Buffer {
    return this.#lineSource;
  }

  get lineStart(): number {
    return this.#lineStart;
  }

  /** Where the last IN_SOURCE line ends (its `\r\n` or `\n` not included). */
  get lineEnd(): number {
    return this.#lineEnd;
  }

  /** True once a line went over the cap; all later input is ignored. */
  get failed(): boolean {
    return this.#failed;
  }

  /**
   * Adds received bytes. The buffer is given away: the parser keeps a reference until next()
   * has returned undefined (then the unterminated rest has been copied), and the answer batch
   * overwrites bytes of IN_SOURCE lines it has taken (batch.ts): the caller must not reuse it.
   */
  push(chunk: Buffer): void {
    if (this.#failed || this.#ended || chunk.length === 0) return;
    if (this.#pos < this.#chunk.length) {
      // Rare: more input before the last chunk was taken apart (a read already under way).
      this.#chunk = Buffer.concat([this.#chunk.subarray(this.#pos), chunk]);
    } else {
      this.#chunk = chunk;
    }
    this.#pos = 0;
    this.#chunkAscii = isAscii(this.#chunk);
    this.#chunkUtf8 = this.#chunkAscii || isUtf8(this.#chunk);
    this.#win = '';
    this.#winStart = 0;
  }

  /** End of input: a final unterminated line still counts as a request. */
  end(): void {
    this.#ended = true;
  }

  /** The next complete line, TOO_LONG / INVALID_UTF8, or undefined when more bytes are needed. */
  next(): ParsedLine | undefined {
    const line = this.nextLine();
    if (line === IN_SOURCE) return this.#lineSource.toString('utf8', this.#lineStart, this.#lineEnd);
    return typeof line === 'object' ? line.toString('utf8') : line;
  }

  /**
   * The next line: a string when shorter than TEXT_MAX bytes, else IN_SOURCE (where it lies
   * in one read) or its bytes (a copy, where it spanned reads); valid UTF-8 in every case.
   * TOO_LONG / INVALID_UTF8, or undefined when more bytes are needed.
   */
  nextLine(): ParsedMixed | undefined {
    // The hot path, pipelined short requests: the next line is short and wholly inside the
    // ASCII window's text. Cut with the string's indexOf and slice only, in one function (a
    // fifth less time per line than the general path below; the window is '' when unset).
    const win = this.#win;
    const at = this.#pos - this.#winStart;
    if (at >= 0 && at < win.length && this.#pendingLength === 0) {
      const i = win.indexOf('\n', at);
      if (i !== -1) {
        const end = i > at && win.charCodeAt(i - 1) === CR ? i - 1 : i;
        if (end - at < TEXT_MAX && end - at <= this.#maxLine) {
          this.#pos = this.#winStart + i + 1;
          if (this.#pos === this.#chunk.length) {
            this.#letGo();
            // An earlier IN_SOURCE line of this read must not keep it alive past its last line.
            this.#lineSource = EMPTY;
          }
          return win.slice(at, end);
        }
      }
    }
    if (this.#failed) return undefined;
    this.#lineSource = EMPTY;
    const chunk = this.#chunk;
    const start = this.#pos;
    if (start < chunk.length) {
      const nl = this.#chunkAscii ? this.#findInText(chunk, start) : chunk.indexOf(LF, start);
      if (nl !== -1) {
        this.#pos = nl + 1;
        const line = this.#pendingLength === 0 ? this.#inChunk(chunk, start, nl) : this.#joined(chunk.subarray(start, nl));
        // All of it taken: let it go now, not at the next read (a view handed out keeps its own).
        if (this.#pos === chunk.length) this.#letGo();
        return line;
      }
      // No terminator in the rest: it becomes the pending line, and the chunk is let go.
      this.#pendingLength += chunk.length - start;
      // +1: the last byte may be the `\r` of a `\r\n` split across chunks.
      if (this.#pendingLength > this.#maxLine + 1) return this.#fail();
      // Copy: holding a slice would pin the whole chunk.
      this.#pending.push(Buffer.from(chunk.subarray(start)));
      this.#letGo();
    }
    if (this.#ended && this.#pendingLength > 0) return this.#joined(EMPTY);
    return undefined;
  }

  /**
   * The next `\n` from `start` in an ASCII chunk: searched in the window's text (a string's
   * indexOf, no call into C++ per line). The window moves to `start` only for a short line:
   * long lines are handed out as bytes, and decoding a window for each of them cost 12% of a
   * 1 KiB ECHO load (measured).
   */
  #findInText(chunk: Buffer, start: number): number {
    const end = this.#winStart + this.#win.length;
    if (start >= this.#winStart && start < end) {
      const i = this.#win.indexOf('\n', start - this.#winStart);
      if (i !== -1) return this.#winStart + i;
      return end < chunk.length ? chunk.indexOf(LF, end) : -1;
    }
    const nl = chunk.indexOf(LF, start);
    if (nl !== -1 && nl - start < TEXT_MAX) {
      this.#winStart = start;
      this.#win = chunk.toString('latin1', start, Math.min(chunk.length, start + WINDOW));
    }
    return nl;
  }

  /** A line wholly inside the current chunk: no copy, no check when the chunk is valid. */
  #inChunk(chunk: Buffer, start: number, nl: number): ParsedMixed {
    const end = nl > start && chunk[nl - 1] === CR ? nl - 1 : nl;
    if (end - start > this.#maxLine) return this.#fail();
    if (end - start < TEXT_MAX && this.#chunkAscii) {
      if (start < this.#winStart || end > this.#winStart + this.#win.length) {
        this.#winStart = start;
        this.#win = chunk.toString('latin1', start, Math.min(chunk.length, start + WINDOW));
      }
      return this.#win.slice(start - this.#winStart, end - this.#winStart);
    }
    if (!this.#chunkUtf8 && !isUtf8(chunk.subarray(start, end))) return INVALID_UTF8;
    if (end - start < TEXT_MAX) return chunk.toString('utf8', start, end);
    this.#lineSource = chunk;
    this.#lineStart = start;
    this.#lineEnd = end;
    return IN_SOURCE;
  }

  /** The pending bytes plus `tail`, as one line. */
  #joined(tail: Buffer): ParsedMixed {
    this.#pending.push(tail);
    const bytes = Buffer.concat(this.#pending, this.#pendingLength + tail.length);
    this.#pending = [];
    this.#pendingLength = 0;
    const end = bytes.length > 0 && bytes[bytes.length - 1] === CR ? bytes.length - 1 : bytes.length;
    if (end > this.#maxLine) return this.#fail();
    const line = bytes.subarray(0, end);
    if (!isUtf8(line)) return INVALID_UTF8;
    return end < TEXT_MAX ? line.toString('utf8') : line;
  }

  #letGo(): void {
    this.#chunk = EMPTY;
    this.#pos = 0;
    this.#win = '';
  }

  #fail(): typeof TOO_LONG {
    this.#failed = true;
    this.#chunk = EMPTY;
    this.#pos = 0;
    this.#win = '';
    this.#pending = [];
    this.#pendingLength = 0;
    this.#lineSource = EMPTY;
    return TOO_LONG;
  }
}
