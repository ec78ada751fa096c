import { describe, expect, it } from 'vitest';
import { INVALID_UTF8, IN_SOURCE, LineParser, TEXT_MAX, TOO_LONG, type ParsedLine } from '../../src/protocol/line-parser.js';

const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');
/** How a test shows a line that is not valid UTF-8. */
const BAD = '<invalid-utf8>';

type Result = { lines: string[]; tooLong: boolean };

/** Takes every line the parser has. */
function drain(p: LineParser): Result {
  const lines: string[] = [];
  let tooLong = false;
  for (let l: ParsedLine | undefined = p.next(); l !== undefined; l = p.next()) {
    if (l === TOO_LONG) tooLong = true;
    else lines.push(l === INVALID_UTF8 ? BAD : l);
  }
  return { lines, tooLong };
}

/** push + drain, like a connection reading one chunk. */
function feed(p: LineParser, chunk: string | Buffer): Result {
  p.push(typeof chunk === 'string' ? bytes(chunk) : chunk);
  return drain(p);
}

function finish(p: LineParser): Result {
  p.end();
  return drain(p);
}

/** Feeds the input one byte at a time and collects every line. */
function byteByByte(parser: LineParser, input: string | Buffer): Result {
  const buf = typeof input === 'string' ? bytes(input) : input;
  const lines: string[] = [];
  let tooLong = false;
  for (let i = 0; i < buf.length; i++) {
    const r = feed(parser, buf.subarray(i, i + 1));
    lines.push(...r.lines);
    tooLong ||= r.tooLong;
  }
  return { lines, tooLong };
}

describe('LineParser', () => {
  it('splits one chunk holding many lines', () => {
    const p = new LineParser(100);
    expect(feed(p, bytes('PING\nECHO a b\nSTATUS\n'))).toEqual({ lines: ['PING', 'ECHO a b', 'STATUS'], tooLong: false });
    expect(p.buffered).toBe(0);
  });

  it('assembles a line delivered byte by byte', () => {
    const p = new LineParser(100);
    expect(byteByByte(p, 'ECHO hello world\r\nPING\n')).toEqual({ lines: ['ECHO hello world', 'PING'], tooLong: false });
  });

  it('produces the same lines for every split point of the input', () => {
    const input = bytes('SET k v\r\nGET k\n\nECHO  x \r\n');
    for (let cut = 0; cut <= input.length; cut++) {
      const p = new LineParser(64);
      const lines = [...feed(p, input.subarray(0, cut)).lines, ...feed(p, input.subarray(cut)).lines];
      expect(lines, `cut at ${cut}`).toEqual(['SET k v', 'GET k', '', 'ECHO  x ']);
    }
  });

  it('strips exactly one trailing \\r, also when \\r and \\n arrive in different chunks', () => {
    const p = new LineParser(10);
    expect(feed(p, bytes('A\r')).lines).toEqual([]);
    expect(feed(p, bytes('\n')).lines).toEqual(['A']);
    expect(feed(p, bytes('B\r\r\n')).lines).toEqual(['B\r']);
    expect(feed(p, bytes('C\rD\n')).lines).toEqual(['C\rD']);
  });

  it('keeps a partial line until its terminator comes', () => {
    const p = new LineParser(100);
    expect(feed(p, bytes('PI')).lines).toEqual([]);
    expect(p.buffered).toBe(2);
    expect(feed(p, bytes('NG\nPO')).lines).toEqual(['PING']);
    expect(p.buffered).toBe(2);
  });

  it('decodes UTF-8 split across chunks', () => {
    const p = new LineParser(100);
    const euro = bytes('ECHO €\n'); // € is 3 bytes
    expect(byteByByte(p, euro).lines).toEqual(['ECHO €']);
  });

  it('accepts a line of exactly maxLine bytes (terminator not counted), CRLF or LF', () => {
    const line = 'x'.repeat(16);
    expect(feed(new LineParser(16), `${line}\n`)).toEqual({ lines: [line], tooLong: false });
    expect(byteByByte(new LineParser(16), `${line}\r\n`)).toEqual({ lines: [line], tooLong: false });
  });

  it('reports a terminated line of maxLine+1 bytes as too long', () => {
    const p = new LineParser(16);
    expect(feed(p, bytes(`PING\n${'y'.repeat(17)}\nPING\n`))).toEqual({ lines: ['PING'], tooLong: true });
    expect(p.failed).toBe(true);
  });

  it('reports an unterminated line as soon as it cannot fit, holding at most maxLine+1 bytes', () => {
    const p = new LineParser(16);
    let result = { lines: [] as string[], tooLong: false };
    let fedBytes = 0;
    while (!result.tooLong && fedBytes < 1000) {
      result = feed(p, bytes('z'));
      fedBytes += 1;
      expect(p.buffered).toBeLessThanOrEqual(17);
    }
    expect(result.tooLong).toBe(true);
    expect(fedBytes).toBe(18);
  });

  it('ignores everything after a too-long line', () => {
    const p = new LineParser(4);
    expect(feed(p, bytes('toolong\n')).tooLong).toBe(true);
    expect(feed(p, bytes('PING\n'))).toEqual({ lines: [], tooLong: false });
    expect(finish(p)).toEqual({ lines: [], tooLong: false });
  });

  it('hands out an unterminated last line at end of input', () => {
    const p = new LineParser(10);
    feed(p, bytes('PING\nQU'));
    expect(feed(p, bytes('IT')).lines).toEqual([]);
    expect(finish(p)).toEqual({ lines: ['QUIT'], tooLong: false });
    expect(finish(new LineParser(10))).toEqual({ lines: [], tooLong: false });
  });

  it('keeps no reference to the caller’s buffer once it has run dry', () => {
    const p = new LineParser(10);
    const chunk = bytes('AB');
    feed(p, chunk);
    chunk.fill(0x21); // caller reuses its buffer
    expect(feed(p, bytes('\n')).lines).toEqual(['AB']);
  });

  it('hands out valid UTF-8 exactly, for every split of every multi-byte character', () => {
    const text = 'SET k é€😀 ü\u00a0\u2028\n';
    const input = bytes(text);
    expect(byteByByte(new LineParser(100), input)).toEqual({ lines: [text.slice(0, -1)], tooLong: false });
    for (let cut = 0; cut <= input.length; cut++) {
      const p = new LineParser(100);
      const lines = [...feed(p, input.subarray(0, cut)).lines, ...feed(p, input.subarray(cut)).lines];
      expect(lines, `cut at ${cut}`).toEqual([text.slice(0, -1)]);
    }
  });

  it('reports a line that is not valid UTF-8 instead of decoding it, and goes on with the next', () => {
    // \xfe and \xff never occur in UTF-8: decoded with replacement they would both be U+FFFD.
    const input = Buffer.concat([bytes('SET '), Buffer.from([0xfe]), bytes(' v\nGET '), Buffer.from([0xff]), bytes('\nPING\n')]);
    expect(feed(new LineParser(64), input)).toEqual({ lines: [BAD, BAD, 'PING'], tooLong: false });
    expect(byteByByte(new LineParser(64), input)).toEqual({ lines: [BAD, BAD, 'PING'], tooLong: false });
  });

  it('rejects truncated, overlong and surrogate sequences, byte by byte too', () => {
    const cases = [
      [0xe2, 0x82], // € without its last byte
      [0xc0, 0xaf], // overlong '/'
      [0xed, 0xa0, 0x80], // a UTF-16 surrogate
      [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
      [0x80], // a lone continuation byte
    ];
    for (const seq of cases) {
      const input = Buffer.concat([bytes('ECHO '), Buffer.from(seq), bytes('\r\nPING\n')]);
      expect(feed(new LineParser(64), input).lines, seq.join(',')).toEqual([BAD, 'PING']);
      expect(byteByByte(new LineParser(64), input).lines, seq.join(',')).toEqual([BAD, 'PING']);
    }
  });

  it('checks a line from a chunk that is not valid as a whole on its own bytes', () => {
    const p = new LineParser(64);
    // The chunk ends inside €, so it is not valid UTF-8 as a whole; its lines are.
    expect(feed(p, Buffer.concat([bytes('PING\nECHO a\nECHO '), Buffer.from([0xe2, 0x82])]))).toEqual({ lines: ['PING', 'ECHO a'], tooLong: false });
    expect(feed(p, Buffer.from([0xac, 0x0a]))).toEqual({ lines: ['ECHO €'], tooLong: false });
  });

  it('an unterminated last line is checked too', () => {
    const p = new LineParser(64);
    feed(p, Buffer.from([0x45, 0xff]));
    expect(finish(p)).toEqual({ lines: [BAD], tooLong: false });
  });

  it('holds unanswered requests as the received bytes, one line taken at a time', () => {
    const p = new LineParser(64);
    p.push(bytes('GET k\nGET k\nGE'));
    expect(p.held).toBe(14);
    expect(p.next()).toBe('GET k');
    expect(p.held).toBe(8);
    expect(p.next()).toBe('GET k');
    expect(p.next()).toBeUndefined();
    expect(p.held).toBe(2);
    expect(p.buffered).toBe(2);
    // More input before the rest was taken apart is kept in order.
    p.push(bytes('T a\nGET b\n'));
    p.push(bytes('GET c\n'));
    expect(drain(p).lines).toEqual(['GET a', 'GET b', 'GET c']);
    expect(p.held).toBe(0);
  });

  it('rejects a nonsensical cap', () => {
    expect(() => new LineParser(0)).toThrow(RangeError);
  });
});

describe('nextLine: short lines as text, long ones as bytes', () => {
  it('hands out a line under TEXT_MAX bytes as a string and one of TEXT_MAX or more as its place in the read', () => {
    const p = new LineParser(10_000);
    const short = `ECHO ${'a'.repeat(TEXT_MAX - 6)}`; // TEXT_MAX - 1 bytes
    const long = `ECHO ${'b'.repeat(TEXT_MAX - 5)}`; // TEXT_MAX bytes
    const wide = `ECHO ${'é'.repeat(200)}`; // 405 bytes, 205 characters: bytes count, not characters
    const read = bytes(`${short}\r\n${long}\r\n${wide}\nPING\n`);
    p.push(read);
    expect(p.nextLine()).toBe(short);
    expect(p.nextLine()).toBe(IN_SOURCE);
    // The read itself, the line's bounds without its CR LF: no copy, no view.
    expect(p.lineSource).toBe(read);
    expect([p.lineStart, p.lineEnd]).toEqual([TEXT_MAX + 1, 2 * TEXT_MAX + 1]);
    expect(p.nextLine()).toBe(IN_SOURCE);
    expect(p.lineSource.toString('utf8', p.lineStart, p.lineEnd)).toBe(wide);
    expect(p.nextLine()).toBe('PING');
    // Let go with the next call: a held connection does not keep its last read through it.
    expect(p.lineSource.length).toBe(0);
    expect(p.nextLine()).toBeUndefined();
  });

  it('lets a read go once its last line is taken, also when a short line follows a long one in an ASCII read', () => {
    const p = new LineParser(10_000);
    // The first PING decodes a text window that covers the whole read; the last PING is cut from it.
    const read = bytes(`PING\nECHO ${'d'.repeat(TEXT_MAX)}\nPING\n`);
    p.push(read);
    expect(p.nextLine()).toBe('PING');
    expect(p.nextLine()).toBe(IN_SOURCE);
    expect(p.lineSource).toBe(read);
    expect(p.nextLine()).toBe('PING');
    expect(p.lineSource.length).toBe(0);
    expect(p.held).toBe(0);
  });

  it('a long line that spans reads comes as a buffer of its own', () => {
    const p = new LineParser(10_000);
    const long = `ECHO ${'c'.repeat(TEXT_MAX)}`;
    p.push(bytes(long.slice(0, 100)));
    expect(p.nextLine()).toBeUndefined();
    p.push(bytes(`${long.slice(100)}\n`));
    const line = p.nextLine();
    expect(Buffer.isBuffer(line) && line.toString('latin1')).toBe(long);
  });

  it('cuts the same lines as a plain split, whatever the chunking and window edges (seeded fuzz, ASCII and not)', () => {
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 40; round++) {
      const lines: string[] = [];
      const nonAscii = round % 4 === 3;
      for (let i = 0; i < 400; i++) {
        const len = rand(6) === 0 ? TEXT_MAX - 3 + rand(6) : rand(40);
        let line = '';
        for (let j = 0; j < len; j++) line += String.fromCharCode(0x21 + rand(90));
        if (nonAscii && rand(10) === 0) line += 'ü€';
        lines.push(line);
      }
      const wire = bytes(lines.map((l, i) => (i % 7 === 0 ? `${l}\r\n` : `${l}\n`)).join(''));
      const p = new LineParser(1024);
      const got: string[] = [];
      for (let at = 0; at < wire.length; ) {
        // Reads of all sizes, also bigger than the 1024-byte text window.
        const size = 1 + rand(rand(2) === 0 ? 64 : 9000);
        p.push(wire.subarray(at, at + size));
        at += size;
        for (let l = p.nextLine(); l !== undefined; l = p.nextLine()) {
          expect(l === TOO_LONG || l === INVALID_UTF8, String(l)).toBe(false);
          got.push(typeof l === 'string' ? l : l === IN_SOURCE ? p.lineSource.toString('utf8', p.lineStart, p.lineEnd) : l.toString('utf8'));
        }
      }
      expect(got).toEqual(lines);
    }
  });

  it('a short line that is not valid UTF-8 is still reported, never decoded', () => {
    const p = new LineParser(100);
    p.push(Buffer.from([0x47, 0x45, 0x54, 0x20, 0xff, 0x0a, 0x50, 0x49, 0x4e, 0x47, 0x0a]));
    expect(p.nextLine()).toBe(INVALID_UTF8);
    expect(p.nextLine()).toBe('PING');
  });
});
