/**
 * Pure line framing: bytes in, lines out, length-capped (after nats.js's parser).
 * No sockets, no timers: every edge (split terminators, CRLF across chunks, the cap) is
 * testable byte by byte.
 *
 * A line ends at `\n`; one trailing `\r` is stripped. `maxLine` counts the line's bytes
 * without its terminator. Once a line is over the cap the parser reports it and stops
 * (the connection is closed), so a peer that never sends `\n` costs at most maxLine+1 bytes.
 */

const LF = 0x0a;
const CR = 0x0d;

export type ParseResult = { lines: string[]; tooLong: boolean };

export class LineParser {
  readonly #maxLine: number;
  #pending: Buffer[] = [];
  #pendingLength = 0;
  #failed = false;

  constructor(maxLine: number) {
    if (!Number.isInteger(maxLine) || maxLine < 1) throw new RangeError(`maxLine must be a positive integer, got ${maxLine}`);
    this.#maxLine = maxLine;
  }

  /** Bytes held for a line not yet terminated. */
  get buffered(): number {
    return this.#pendingLength;
  }

  /** True once a line went over the cap; all later input is ignored. */
  get failed(): boolean {
    return this.#failed;
  }

  push(chunk: Uint8Array): ParseResult {
    const lines: string[] = [];
    if (this.#failed) return { lines, tooLong: false };
    let start = 0;
    for (let nl = chunk.indexOf(LF, start); nl !== -1; nl = chunk.indexOf(LF, start)) {
      const line = this.#take(chunk, start, nl);
      if (line === undefined) return this.#fail(lines);
      lines.push(line);
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.#pendingLength += rest.length;
      // +1: the last byte may be the `\r` of a `\r\n` split across chunks.
      if (this.#pendingLength > this.#maxLine + 1) return this.#fail(lines);
      // Copy: the caller may reuse its buffer, and holding a slice would pin all of it.
      this.#pending.push(Buffer.from(rest));
    }
    return { lines, tooLong: false };
  }

  /** End of input: a final unterminated line still counts as a request. */
  end(): ParseResult {
    if (this.#failed || this.#pendingLength === 0) return { lines: [], tooLong: false };
    const line = this.#take(new Uint8Array(0), 0, 0);
    if (line === undefined) return this.#fail([]);
    return { lines: [line], tooLong: false };
  }

  #take(chunk: Uint8Array, start: number, end: number): string | undefined {
    let bytes: Uint8Array;
    if (this.#pendingLength === 0) {
      bytes = chunk.subarray(start, end);
    } else {
      this.#pending.push(Buffer.from(chunk.buffer, chunk.byteOffset + start, end - start));
      bytes = Buffer.concat(this.#pending, this.#pendingLength + end - start);
      this.#pending = [];
      this.#pendingLength = 0;
    }
    let length = bytes.length;
    if (length > 0 && bytes[length - 1] === CR) length -= 1;
    if (length > this.#maxLine) return undefined;
    return Buffer.from(bytes.buffer, bytes.byteOffset, length).toString('utf8');
  }

  #fail(lines: string[]): ParseResult {
    this.#failed = true;
    this.#pending = [];
    this.#pendingLength = 0;
    return { lines, tooLong: true };
  }
}
