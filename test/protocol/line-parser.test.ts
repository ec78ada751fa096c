import { describe, expect, it } from 'vitest';
import { LineParser } from '../../src/protocol/line-parser.js';

const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

/** Feeds the input one byte at a time and collects every line. */
function byteByByte(parser: LineParser, input: string | Buffer): { lines: string[]; tooLong: boolean } {
  const buf = typeof input === 'string' ? bytes(input) : input;
  const lines: string[] = [];
  let tooLong = false;
  for (let i = 0; i < buf.length; i++) {
    const r = parser.push(buf.subarray(i, i + 1));
    lines.push(...r.lines);
    tooLong ||= r.tooLong;
  }
  return { lines, tooLong };
}

describe('LineParser', () => {
  it('splits one chunk holding many lines', () => {
    const p = new LineParser(100);
    expect(p.push(bytes('PING\nECHO a b\nSTATUS\n'))).toEqual({ lines: ['PING', 'ECHO a b', 'STATUS'], tooLong: false });
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
      const lines = [...p.push(input.subarray(0, cut)).lines, ...p.push(input.subarray(cut)).lines];
      expect(lines, `cut at ${cut}`).toEqual(['SET k v', 'GET k', '', 'ECHO  x ']);
    }
  });

  it('strips exactly one trailing \\r, also when \\r and \\n arrive in different chunks', () => {
    const p = new LineParser(10);
    expect(p.push(bytes('A\r')).lines).toEqual([]);
    expect(p.push(bytes('\n')).lines).toEqual(['A']);
    expect(p.push(bytes('B\r\r\n')).lines).toEqual(['B\r']);
    expect(p.push(bytes('C\rD\n')).lines).toEqual(['C\rD']);
  });

  it('keeps a partial line until its terminator comes', () => {
    const p = new LineParser(100);
    expect(p.push(bytes('PI')).lines).toEqual([]);
    expect(p.buffered).toBe(2);
    expect(p.push(bytes('NG\nPO')).lines).toEqual(['PING']);
    expect(p.buffered).toBe(2);
  });

  it('decodes UTF-8 split across chunks', () => {
    const p = new LineParser(100);
    const euro = bytes('ECHO €\n'); // € is 3 bytes
    expect(byteByByte(p, euro).lines).toEqual(['ECHO €']);
  });

  it('accepts a line of exactly maxLine bytes (terminator not counted), CRLF or LF', () => {
    const line = 'x'.repeat(16);
    expect(new LineParser(16).push(bytes(`${line}\n`))).toEqual({ lines: [line], tooLong: false });
    expect(byteByByte(new LineParser(16), `${line}\r\n`)).toEqual({ lines: [line], tooLong: false });
  });

  it('reports a terminated line of maxLine+1 bytes as too long', () => {
    const p = new LineParser(16);
    expect(p.push(bytes(`PING\n${'y'.repeat(17)}\nPING\n`))).toEqual({ lines: ['PING'], tooLong: true });
    expect(p.failed).toBe(true);
  });

  it('reports an unterminated line as soon as it cannot fit, holding at most maxLine+1 bytes', () => {
    const p = new LineParser(16);
    let result = { lines: [] as string[], tooLong: false };
    let fedBytes = 0;
    while (!result.tooLong && fedBytes < 1000) {
      result = p.push(bytes('z'));
      fedBytes += 1;
      expect(p.buffered).toBeLessThanOrEqual(17);
    }
    expect(result.tooLong).toBe(true);
    expect(fedBytes).toBe(18);
  });

  it('ignores everything after a too-long line', () => {
    const p = new LineParser(4);
    expect(p.push(bytes('toolong\n')).tooLong).toBe(true);
    expect(p.push(bytes('PING\n'))).toEqual({ lines: [], tooLong: false });
    expect(p.end()).toEqual({ lines: [], tooLong: false });
  });

  it('hands out an unterminated last line at end of input', () => {
    const p = new LineParser(10);
    p.push(bytes('PING\nQU'));
    expect(p.push(bytes('IT')).lines).toEqual([]);
    expect(p.end()).toEqual({ lines: ['QUIT'], tooLong: false });
    expect(new LineParser(10).end()).toEqual({ lines: [], tooLong: false });
  });

  it('does not keep a reference to the caller’s buffer', () => {
    const p = new LineParser(10);
    const chunk = bytes('AB');
    p.push(chunk);
    chunk.fill(0x21); // caller reuses its buffer
    expect(p.push(bytes('\n')).lines).toEqual(['AB']);
  });

  it('rejects a nonsensical cap', () => {
    expect(() => new LineParser(0)).toThrow(RangeError);
  });
});
