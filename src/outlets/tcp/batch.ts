/**
 * One batch of answers: takes lines from the parser and answers them, in order, until the
 * parser runs dry, the batch reaches `room` bytes, a line is fatal or QUIT ends the session.
 * No socket here: the connection writes what this returns as one write (one syscall for a
 * whole read of pipelined requests), so a pushed line can never land inside the batch.
 *
 * The hot path (measured): short lines come from the parser as strings cut from the chunk's
 * text and PING / ECHO are answered inline (`quickAnswer`); an ECHO of 256 bytes or more is
 * answered on the line's own bytes (`isEchoBytes`), never decoded and encoded again.
 *
 * Those ECHO answers are made in place: an answer is its request minus `ECHO `, so a run of
 * ECHO lines in one read is moved towards the run's start (`copyWithin`, a memmove) and
 * written as one view of the read. No buffer is allocated per batch (that was the young-
 * generation churn behind the 1 KiB loads' pauses). It is safe because an answer only ever
 * lands on bytes of lines already taken, never on a line not yet answered; each batch moves
 * only the lines it took; and a read is never reused (line-parser.ts `push`).
 */
import { ProtocolError, errLine } from '../../errors.js';
import { ECHO_PREFIX, handleLine, isEchoBytes, quickAnswer, type CommandHost, type Session } from '../../protocol/commands.js';
import { INVALID_UTF8, IN_SOURCE, TOO_LONG, type LineParser } from '../../protocol/line-parser.js';

const LF = 0x0a;
const NO_BYTES: Buffer = Buffer.alloc(0);

export interface Batch {
  /** What to write: text, or bytes when ECHO answers are in it; undefined: nothing. */
  readonly data: string | Buffer | undefined;
  /** Lines answered (a fatal line not included). */
  readonly answered: number;
  /** The error line that ends the connection (line too long), written after `data`. */
  readonly fatal: string | undefined;
  /** The parser ran dry: every complete line read so far is answered. */
  readonly dry: boolean;
}

export function answerBatch(parser: LineParser, session: Session, commands: CommandHost, room: number): Batch {
  // Text answers gather in `out`, ECHO answers in `run[runStart, runEnd)`: the read their
  // requests came in. A piece moves to `parts` when the other kind comes after it.
  let out = '';
  let run: Buffer = NO_BYTES;
  let runStart = -1;
  let runEnd = -1;
  let parts: (string | Buffer)[] | undefined;
  let size = 0;
  let n = 0;
  let fatal: string | undefined;
  let line = parser.nextLine();
  while (line !== undefined) {
    // Short lines first: the requests that come by the thousand.
    let answer: string | undefined;
    // The room is in bytes; a text answer's length is in UTF-16 units, a third of the bytes
    // for a GET of CJK text. Quick answers (PONG, a short ECHO) are at most their request's
    // bytes, which one read bounds, so only the other answers are measured: off the hot path.
    let measure = false;
    if (typeof line === 'string') {
      answer = quickAnswer(line, session);
      if (answer === undefined) {
        answer = handleLine(line, commands, session);
        measure = true;
      }
    } else if (line === TOO_LONG) {
      fatal = errLine(ProtocolError.LINE_TOO_LONG);
      break;
    } else if (line === INVALID_UTF8) {
      answer = errLine(ProtocolError.INVALID_UTF8);
    } else {
      // A long line: in the read, or in a buffer of its own where it spanned reads.
      const bytes = line === IN_SOURCE ? parser.lineSource : line;
      const start = line === IN_SOURCE ? parser.lineStart : 0;
      const end = line === IN_SOURCE ? parser.lineEnd : bytes.length;
      if (isEchoBytes(bytes, start, end, session)) {
        if (out !== '') {
          (parts ??= []).push(out);
          out = '';
        }
        // Lines of one read follow each other: a run goes on until another kind of line comes.
        if (runStart === -1 || bytes !== run) {
          if (runStart !== -1) (parts ??= []).push(run.subarray(runStart, runEnd));
          run = bytes;
          runStart = runEnd = start;
        }
        // The payload, then its `\n` (where the request's CR or LF was, or before).
        const answerBytes = end - start - ECHO_PREFIX + 1;
        bytes.copyWithin(runEnd, start + ECHO_PREFIX, end);
        runEnd += answerBytes;
        bytes[runEnd - 1] = LF;
        size += answerBytes;
      } else {
        answer = handleLine(bytes.toString('utf8', start, end), commands, session);
        measure = true;
      }
    }
    if (answer !== undefined) {
      if (runStart !== -1) {
        (parts ??= []).push(run.subarray(runStart, runEnd));
        runStart = -1;
      }
      out += `${answer}\n`;
      size += (measure ? Buffer.byteLength(answer) : answer.length) + 1;
    }
    n += 1;
    if (session.quit || size >= room) break;
    line = parser.nextLine();
  }
  let data: string | Buffer | undefined;
  if (parts === undefined) {
    // The common cases: only text, or one run of ECHOs written as a view of its read.
    data = runStart !== -1 ? pinned(run.subarray(runStart, runEnd)) : out === '' ? undefined : out;
  } else {
    if (runStart !== -1) parts.push(run.subarray(runStart, runEnd));
    if (out !== '') parts.push(out);
    data = assemble(parts);
  }
  return { data, answered: n, fatal, dry: line === undefined };
}

/**
 * A view keeps its whole read alive while it waits in the socket's queue, but the output cap
 * counts only the view's bytes. A client that does not read could otherwise pin a 64 KiB read
 * per queued 300-byte ECHO answer (a read of long SETs and one ECHO): a view that is less than
 * 3/4 of its read is copied, so what a queue pins stays within 4/3 of what the cap counts.
 */
function pinned(view: Buffer): Buffer {
  return view.length * 4 >= view.buffer.byteLength * 3 ? view : Buffer.from(view);
}

/** One buffer of the batch's pieces in order: text as UTF-8, ECHO answers as they are. */
function assemble(parts: readonly (string | Buffer)[]): Buffer {
  let bytes = 0;
  for (const part of parts) bytes += typeof part === 'string' ? Buffer.byteLength(part) : part.length;
  const data = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (const part of parts) at += typeof part === 'string' ? data.write(part, at) : part.copy(data, at);
  return data;
}
