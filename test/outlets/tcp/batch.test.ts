import { describe, expect, it } from 'vitest';
import { answerBatch, type Batch } from '../../../src/outlets/tcp/batch.js';
import { loadAccessPolicy } from '../../../src/protocol/access.js';
import { handleLine, newSession, type CommandHost, type Session } from '../../../src/protocol/commands.js';
import { LineParser, TEXT_MAX } from '../../../src/protocol/line-parser.js';
import { KvStore } from '../../../src/protocol/store.js';

const host = (): CommandHost => ({ store: new KvStore(), status: () => ({ ok: true }), readJson: () => undefined, historyJson: () => '[]' });
const long = (tag: string, n = TEXT_MAX + 40): string => `${tag}${'x'.repeat(n)}`;
const bytesOf = (data: Batch['data']): Buffer => (data === undefined ? Buffer.alloc(0) : typeof data === 'string' ? Buffer.from(data) : data);

/** Every batch of one read, until the parser runs dry; room as given. */
function batches(parser: LineParser, session: Session, commands: CommandHost, room = 1 << 20): Batch[] {
  const out: Batch[] = [];
  for (;;) {
    const b = answerBatch(parser, session, commands, room);
    if (b.answered === 0 && b.fatal === undefined) return out;
    out.push(b);
    if (b.dry || b.fatal !== undefined || session.quit) return out;
  }
}

describe('answerBatch', () => {
  it('answers a read of long ECHOs with the payloads, in order, CRLF or LF, as one buffer', () => {
    const p = new LineParser(4096);
    const lines = [long('ECHO a'), long('ECHO b', 600), long('ECHO é€😀 ')];
    p.push(Buffer.from(`${lines[0]}\r\n${lines[1]}\n${lines[2]}\r\n`));
    const [b, more] = batches(p, newSession(undefined, '127.0.0.1'), host());
    expect(more).toBeUndefined();
    expect(b?.answered).toBe(3);
    expect(Buffer.isBuffer(b?.data)).toBe(true);
    expect(bytesOf(b?.data).toString('utf8')).toBe(lines.map((l) => `${l.slice(5)}\n`).join(''));
  });

  it('keeps the order when text answers, short ECHOs, other long lines and a line that spanned reads come between', () => {
    const p = new LineParser(4096);
    const commands = host();
    const session = newSession(undefined, '127.0.0.1');
    const split = long('ECHO split ');
    const wire = [long('ECHO 1 '), 'PING', 'ECHO short é', `SET k ${long('v')}`, long('ECHO 2 '), 'GET k', `${long('ECHO 3 ')}\r`, split];
    const text = `${wire.join('\n')}\n`;
    const cut = text.indexOf(split) + 100;
    p.push(Buffer.from(text.slice(0, cut)));
    const first = batches(p, session, commands);
    p.push(Buffer.from(text.slice(cut)));
    const second = batches(p, session, commands);
    const got = [...first, ...second].map((b) => bytesOf(b.data).toString('utf8')).join('');
    const reference = host();
    const want = wire.map((l) => `${handleLine(l.replace(/\r$/u, ''), reference, newSession(undefined, '127.0.0.1'))}\n`).join('');
    expect(got).toBe(want);
    expect(commands.store.get('k')).toBe(long('v'));
  });

  it('a batch cut short by its room keeps its answers intact while the next batch answers the rest of the same read', () => {
    const p = new LineParser(4096);
    const session = newSession(undefined, '127.0.0.1');
    const lines = Array.from({ length: 12 }, (_, i) => long(`ECHO ${i} `, 300 + i));
    p.push(Buffer.from(lines.map((l) => `${l}\n`).join('')));
    // Room for about three answers a batch: four batches from one read.
    const all = batches(p, session, host(), 900);
    expect(all.length).toBeGreaterThanOrEqual(4);
    // Read every batch only now, after all of them were made: none was overwritten by a later one.
    expect(all.map((b) => bytesOf(b.data).toString('utf8')).join('')).toBe(lines.map((l) => `${l.slice(5)}\n`).join(''));
  });

  it('writes ECHO answers as a view of the read only when they are most of it: a small answer never pins a whole read', () => {
    const session = newSession(undefined, '127.0.0.1');
    const echoes = Array.from({ length: 8 }, (_, i) => long(`ECHO ${i} `, 1000));
    const all = Buffer.from(echoes.map((l) => `${l}\n`).join(''));
    const p = new LineParser(4096);
    p.push(all);
    const [b] = batches(p, session, host());
    expect(Buffer.isBuffer(b?.data) && b.data.buffer).toBe(all.buffer);
    // 60 KiB of SETs answered `OK` in one batch, then one ECHO alone in the next (room 1 byte).
    const sets = Array.from({ length: 200 }, () => `SET k ${long('v')}`).join('\n');
    const mixed = Buffer.from(`${sets}\n${long('ECHO e ')}\n`);
    const q = new LineParser(4096);
    q.push(mixed);
    const made = batches(q, session, host(), 1);
    const last = made.at(-1)?.data;
    expect(bytesOf(last).toString()).toBe(`${long('e ')}\n`);
    expect(Buffer.isBuffer(last) && last.buffer).not.toBe(mixed.buffer);
  });

  it('measures its room in bytes: GETs of a value in three-byte characters fill a batch at its room, not at three times it', () => {
    const commands = host();
    const value = '€'.repeat(3000); // 9000 bytes in UTF-8, 3000 UTF-16 units
    expect(commands.store.set('k', value)).toBe(true);
    const answerBytes = Buffer.byteLength(`${handleLine('GET k', commands, newSession(undefined, '127.0.0.1'))}\n`);
    const p = new LineParser(4096);
    p.push(Buffer.from('GET k\n'.repeat(20)));
    const room = 16 * 1024;
    const made = batches(p, newSession(undefined, '127.0.0.1'), commands, room);
    expect(made.reduce((n, b) => n + b.answered, 0)).toBe(20);
    // A batch stops at the answer that reaches its room: at most one answer past it.
    for (const b of made) expect(bytesOf(b.data).length).toBeLessThan(room + answerBytes);
  });

  it('gives a session that has not authenticated no ECHO, long or short, and leaves its read as it was', () => {
    const p = new LineParser(4096);
    const access = loadAccessPolicy({ host: '127.0.0.1', allow: [], authTokenFile: '/token', protectedMode: 'on' }, () => 'a token');
    const commands: CommandHost = { ...host(), access };
    const session = newSession(commands.access, '127.0.0.1');
    expect(session.authenticated).toBe(false);
    const read = Buffer.from(`${long('ECHO secret ')}\nECHO hi\n`);
    const before = Buffer.from(read);
    p.push(read);
    const [b] = batches(p, session, commands);
    expect(bytesOf(b?.data).toString('utf8')).toBe('ERR auth-required\nERR auth-required\n');
    expect(read.equals(before)).toBe(true);
  });

  it('answers the same as handleLine line by line, whatever the reads and the room (seeded fuzz)', () => {
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const kinds = [(): string => 'PING', (): string => `ECHO ${rand(1000)}`, (): string => long(`ECHO ${rand(1000)}é `, rand(700)), (): string => 'GET nothing', (): string => long('HELLO ', rand(300))];
    for (let round = 0; round < 30; round++) {
      const wire = Array.from({ length: 200 }, () => kinds[rand(kinds.length)]!());
      const bytes = Buffer.from(wire.map((l, i) => (i % 5 === 0 ? `${l}\r\n` : `${l}\n`)).join(''));
      const p = new LineParser(4096);
      const session = newSession(undefined, '127.0.0.1');
      const commands = host();
      const made: Batch[] = [];
      for (let at = 0; at < bytes.length; ) {
        const size = 1 + rand(rand(2) === 0 ? 300 : 20_000);
        // A copy per read, as a socket gives each read its own buffer.
        p.push(Buffer.from(bytes.subarray(at, at + size)));
        at += size;
        made.push(...batches(p, session, commands, 1 + rand(4000)));
      }
      const reference = host();
      const want = wire.map((l) => `${handleLine(l, reference, newSession(undefined, '127.0.0.1'))}\n`).join('');
      expect(made.map((b) => bytesOf(b.data).toString('utf8')).join('')).toBe(want);
    }
  });
});
