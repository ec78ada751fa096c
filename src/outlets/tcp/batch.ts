/**
 * One batch of answers: takes lines from the parser and answers them, in order, until the
 * parser runs dry, the batch reaches `room` bytes, a line is fatal or QUIT ends the session.
 * No socket here: the connection writes what this returns as one write (one syscall for a
 * whole read of pipelined requests), so a pushed line can never land inside the batch.
 *
 * The hot path (measured): short lines come from the parser as strings cut from the chunk's
 * text; an ECHO of 256 bytes or more is answered on the line's own bytes (commands.ts
 * `echoBytes`), never decoded and encoded again.
 */
import { ProtocolError, errLine } from '../../errors.js';
import { echoBytes, handleLine, type CommandHost, type Session } from '../../protocol/commands.js';
import { INVALID_UTF8, TOO_LONG, type LineParser } from '../../protocol/line-parser.js';

export interface Batch {
  /** What to write: text, or bytes when an ECHO's own bytes are in it; undefined: nothing. */
  readonly data: string | Buffer | undefined;
  /** Lines answered (a fatal line not included). */
  readonly answered: number;
  /** The error line that ends the connection (line too long), written after `data`. */
  readonly fatal: string | undefined;
  /** The parser ran dry: every complete line read so far is answered. */
  readonly dry: boolean;
}

export function answerBatch(parser: LineParser, session: Session, commands: CommandHost, room: number): Batch {
  // Answers are text, except an ECHO's, which is the request's own bytes: text is gathered in
  // `out` and moved into `parts` only when bytes come between. An ECHO's bytes are kept as the
  // line and where its payload starts, copied into the batch at the end: a view per answer
  // cost more than the copy (measured).
  let out = '';
  let parts: (string | Buffer)[] | undefined;
  let froms: number[] | undefined;
  let size = 0;
  let n = 0;
  let fatal: string | undefined;
  let line = parser.nextLine();
  while (line !== undefined) {
    if (line === TOO_LONG) {
      fatal = errLine(ProtocolError.LINE_TOO_LONG);
      break;
    }
    // Short lines are text (PING, GET, SET...); a long ECHO is answered on its own bytes.
    const from = typeof line === 'object' ? echoBytes(line, session) : -1;
    if (from !== -1 && typeof line === 'object') {
      parts ??= [];
      froms ??= [];
      if (out !== '') {
        parts.push(out);
        froms.push(0);
      }
      parts.push(line);
      froms.push(from);
      out = '';
      size += line.length - from + 1;
    } else {
      const answer = line === INVALID_UTF8 ? errLine(ProtocolError.INVALID_UTF8) : handleLine(typeof line === 'string' ? line : line.toString('utf8'), commands, session);
      out += `${answer}\n`;
      size += answer.length + 1;
    }
    n += 1;
    if (session.quit || size >= room) break;
    line = parser.nextLine();
  }
  let data: string | Buffer | undefined = out === '' ? undefined : out;
  if (parts !== undefined && froms !== undefined) {
    if (out !== '') {
      parts.push(out);
      froms.push(0);
    }
    data = assemble(parts, froms);
  }
  return { data, answered: n, fatal, dry: line === undefined };
}

/** One buffer of the batch's pieces: text as UTF-8, an ECHO's bytes from its payload on, plus its `\n`. */
function assemble(parts: readonly (string | Buffer)[], froms: readonly number[]): Buffer {
  let bytes = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    bytes += typeof part === 'string' ? Buffer.byteLength(part) : part.length - froms[i]! + 1;
  }
  const data = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (typeof part === 'string') {
      at += data.write(part, at);
    } else {
      at += part.copy(data, at, froms[i]);
      data[at++] = 0x0a;
    }
  }
  return data;
}
