import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createAllowList } from '../../../src/net/access.js';
import { KvStore } from '../../../src/protocol/store.js';
import { PinetdServer, type ServerOptions } from '../../../src/outlets/tcp/server.js';
import { LineClient } from '../../helpers/client.js';
import { recordingLogger } from '../../helpers/fake.js';

const servers: PinetdServer[] = [];
const clients: LineClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close();
});

async function serve(opts: Partial<ServerOptions> = {}) {
  const rec = recordingLogger();
  let requests = 0;
  const counts: number[] = [];
  const server = new PinetdServer({
    host: '127.0.0.1',
    port: 0,
    protocol: 'lines',
    maxClients: 10,
    maxLine: 64,
    idleTimeoutMs: 0,
    commands: { store: new KvStore(), status: () => ({ state: 'serving', requests }), readJson: () => undefined, historyJson: () => '[]' },
    log: rec.log,
    onRequests: (n) => {
      requests += n;
    },
    onClientCount: (n) => counts.push(n),
    ...opts,
  });
  servers.push(server);
  const { port } = await server.listen();
  const connect = async (from?: string) => {
    const c = await LineClient.connect(port, '127.0.0.1', from);
    clients.push(c);
    return c;
  };
  return { server, port, connect, rec, counts, requests: () => requests };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stores a 4 KB value, stops reading, and sends n GETs of it in one write. */
async function floodWithoutReading(c: LineClient, n: number): Promise<{ c: LineClient; value: string }> {
  const value = 'v'.repeat(4000);
  expect(await c.request(`SET k ${value}`)).toBe('OK');
  c.socket.pause(); // every GET answer is 4 KB, and nobody reads them
  c.send('GET k\n'.repeat(n));
  return { c, value };
}

describe('PinetdServer over real sockets', () => {
  it('answers a request split byte by byte across TCP writes', async () => {
    const { connect } = await serve();
    const c = await connect();
    for (const byte of Buffer.from('ECHO split\r\n')) {
      c.send(Buffer.from([byte]));
      await sleep(1);
    }
    expect(await c.next()).toBe('split');
  });

  it('answers many pipelined requests from one write, in order', async () => {
    const { connect, requests } = await serve();
    const c = await connect();
    const n = 500;
    c.send(Array.from({ length: n }, (_, i) => `ECHO ${i}\n`).join('') + 'PING\n');
    const lines = await c.take(n + 1);
    expect(lines.slice(0, n)).toEqual(Array.from({ length: n }, (_, i) => String(i)));
    expect(lines[n]).toBe('PONG');
    expect(requests()).toBe(n + 1);
  });

  it('answers long ECHO lines byte for byte (multi-byte UTF-8), interleaved with other requests, in order', async () => {
    const { connect } = await serve({ maxLine: 8192 });
    const c = await connect();
    const texts = Array.from({ length: 40 }, (_, i) => `${i} ${'é€😀 ü'.repeat(50 + i)}`);
    // Between them: PING, and short answers with multi-byte text of their own.
    const between = (i: number): string[] => (i % 3 === 0 ? ['PING'] : i % 3 === 1 ? [`ECHO ${i}é€😀`] : []);
    c.send(texts.map((t, i) => [`ECHO ${t}`, ...between(i)].join('\n') + '\n').join(''));
    const expected = texts.flatMap((t, i) => [t, ...between(i).map((b) => (b === 'PING' ? 'PONG' : b.slice(5)))]);
    expect(await c.take(expected.length)).toEqual(expected);
  });

  it('keeps SET/GET state across connections and answers errors inline', async () => {
    const { connect } = await serve();
    const a = await connect();
    a.send('SET colour blue green\nNOPE\n\nGET\n');
    expect(await a.take(4)).toEqual(['OK', 'ERR unknown-command NOPE', 'ERR empty-command', 'ERR usage GET <key>']);
    const b = await connect();
    b.send('GET colour\n');
    expect(await b.next()).toBe('blue green');
  });

  it('QUIT answers BYE, closes, and ignores what was pipelined after it', async () => {
    const { connect } = await serve();
    const c = await connect();
    c.send('PING\nQUIT\nPING\n');
    await c.waitClosed();
    expect(c.lines).toEqual(['PONG', 'BYE']);
  });

  it('answers what precedes an over-long line, then ERR line-too-long and a close', async () => {
    const { connect } = await serve({ maxLine: 16 });
    const c = await connect();
    c.send(`PING\n${'x'.repeat(17)}\nPING\n`);
    await c.waitClosed();
    expect(c.lines).toEqual(['PONG', 'ERR line-too-long']);
  });

  it('closes a peer that streams a line without end once it passes the cap', async () => {
    const { connect } = await serve({ maxLine: 1024 });
    const c = await connect();
    c.send('ECHO ');
    for (let i = 0; i < 10 && !c.isClosed; i++) {
      c.send('y'.repeat(300));
      await sleep(5);
    }
    await c.waitClosed();
    expect(c.lines).toEqual(['ERR line-too-long']);
  });

  it('answers the last request of a half-closed connection, even without a newline', async () => {
    const { port } = await serve();
    const got = await new Promise<string>((resolve) => {
      let out = '';
      const s = net.connect({ port, host: '127.0.0.1' }, () => s.end('PING\nECHO last'));
      s.setEncoding('utf8').on('data', (d: string) => (out += d));
      s.on('close', () => resolve(out));
    });
    expect(got).toBe('PONG\nlast\n');
  });

  it('closes a half-closed, answered connection for good: its address slot is free for the next one', async () => {
    const { port } = await serve({ maxClientsPerIp: 1 });
    const ask = (): Promise<string> =>
      new Promise((resolve) => {
        let out = '';
        const s = net.connect({ port, host: '127.0.0.1' }, () => s.end('PING\n'));
        s.setEncoding('utf8').on('data', (d: string) => (out += d));
        s.on('close', () => resolve(out));
      });
    for (let i = 0; i < 5; i++) {
      // The server's own 'close' follows the client's by a moment: a slot still held then is
      // `ERR busy`, one that is never freed stays so until the deadline.
      const deadline = Date.now() + 2000;
      let answer = await ask();
      while (answer !== 'PONG\n' && Date.now() < deadline) {
        await sleep(10);
        answer = await ask();
      }
      expect(answer).toBe('PONG\n');
    }
  });

  it('refuses clients beyond --max-clients with ERR busy; a server-ended one frees its slot', async () => {
    const { connect, counts } = await serve({ maxClients: 2 });
    const a = await connect();
    const b = await connect();
    a.send('PING\n');
    b.send('PING\n');
    await a.next();
    await b.next();
    const c = await connect();
    await c.waitClosed();
    expect(c.lines).toEqual(['ERR busy']);
    a.send('QUIT\n');
    expect(await a.next()).toBe('BYE');
    const d = await connect();
    d.send('PING\n');
    expect(await d.next()).toBe('PONG');
    expect(Math.max(...counts)).toBe(2);
  });

  it('bounds what it queues for a client that floods requests without reading, then answers them all in order', async () => {
    const { connect, requests } = await serve({ maxLine: 8192 });
    const n = 10_000; // 60 KB of requests, 40 MB of answers
    const { c, value } = await floodWithoutReading(await connect(), n);
    await sleep(300);
    const answeredWhileBlocked = requests();
    expect(answeredWhileBlocked).toBeLessThan(2000); // socket buffers + the 256 KiB cap, not 40 MB
    c.socket.resume();
    const lines = await c.take(n, 20_000);
    expect(lines.every((l) => l === value)).toBe(true);
    expect(requests()).toBe(n + 1);
  });

  it('a pause while a flood waits for drain neither stalls nor loses answers', async () => {
    const { server, connect } = await serve({ maxLine: 8192 });
    const n = 5000;
    const { c, value } = await floodWithoutReading(await connect(), n);
    await sleep(100);
    server.pause();
    c.socket.resume(); // the drain comes while the connection is held by the pause
    await sleep(200);
    server.resume();
    const lines = await c.take(n, 20_000);
    expect(lines.every((l) => l === value)).toBe(true);
  });

  it('does not time out a silent subscriber', async () => {
    const { connect } = await serve({ idleTimeoutMs: 300 });
    const sub = await connect();
    const idle = await connect();
    sub.send('SUBSCRIBE\n');
    expect(await sub.next()).toBe('OK');
    await idle.waitClosed(1000);
    await sleep(500);
    expect(sub.isClosed).toBe(false);
    sub.send('UNSUBSCRIBE\n');
    expect(await sub.next()).toBe('OK');
    await sub.waitClosed(1000);
    expect(sub.lines.at(-1)).toBe('ERR idle-timeout');
  });

  it('closes an idle client with ERR idle-timeout; activity keeps it open', async () => {
    const { connect } = await serve({ idleTimeoutMs: 300 });
    const busy = await connect();
    const idle = await connect();
    for (let i = 0; i < 5; i++) {
      busy.send('PING\n');
      await sleep(100);
    }
    await idle.waitClosed(1000);
    expect(idle.lines).toEqual(['ERR idle-timeout']);
    expect(busy.isClosed).toBe(false);
    expect(busy.lines).toHaveLength(5);
  });

  it('does not count time paused toward the idle timeout', async () => {
    const { server, connect } = await serve({ idleTimeoutMs: 400 });
    const c = await connect();
    await sleep(200);
    server.pause();
    await sleep(600);
    server.resume();
    await sleep(100);
    expect(c.isClosed).toBe(false); // 300 ms of unpaused silence so far
    await c.waitClosed(500);
    expect(c.lines).toEqual(['ERR idle-timeout']);
  });

  it('holds requests sent during a pause, including from new clients, and answers them in order afterwards', async () => {
    const { server, connect } = await serve();
    const a = await connect();
    a.send('PING\n');
    expect(await a.next()).toBe('PONG');
    server.pause();
    a.send('ECHO 1\nECHO 2\n');
    const b = await connect();
    b.send('ECHO new\n');
    a.send('ECHO 3\n');
    await sleep(150);
    expect(a.lines).toEqual(['PONG']);
    expect(b.lines).toEqual([]);
    server.resume();
    expect(await a.take(3)).toEqual(['1', '2', '3']);
    expect(await b.next()).toBe('new');
  });

  it('a client that floods during a pause is not read past its bounds (the rest waits in TCP), then is answered in full, in order', async () => {
    const { server, connect } = await serve({ maxLine: 2048 });
    const c = await connect();
    const lines = Array.from({ length: 24 * 1024 }, (_, i) => `${String(i).padStart(8, '0')}${'x'.repeat(1000)}`);
    const requests = Buffer.from(lines.map((l) => `ECHO ${l}\n`).join(''));
    const expected = Buffer.from(lines.map((l) => `${l}\n`).join(''));
    const got: Buffer[] = [];
    let gotBytes = 0;
    c.socket.removeAllListeners('data');
    c.socket.on('data', (chunk: Buffer | string) => {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      got.push(b);
      gotBytes += b.length;
    });
    server.pause();
    // In 64 KiB writes: the socket's writableLength then shows what the kernel has not taken.
    for (let at = 0; at < requests.length; at += 64 * 1024) c.send(requests.subarray(at, at + 64 * 1024));
    await sleep(300);
    expect(gotBytes).toBe(0);
    // 24 MiB sent: the kernel's buffers take a few MiB, the held connection one read, and
    // flow control keeps the rest on the client's side.
    expect(c.socket.writableLength).toBeGreaterThan(8 * 1024 * 1024);
    server.resume();
    const deadline = Date.now() + 20_000;
    while (gotBytes < expected.length && Date.now() < deadline) await sleep(20);
    expect(Buffer.concat(got).equals(expected)).toBe(true);
  });

  it('echo mode holds what arrives during a pause and echoes it afterwards, in order', async () => {
    const { server, connect } = await serve({ protocol: 'echo' });
    const c = await connect();
    c.send('before|');
    while (c.raw.length < 7) await sleep(5);
    server.pause();
    c.send('one|');
    await sleep(50);
    c.send('two|');
    await sleep(100);
    expect(c.raw).toBe('before|');
    server.resume();
    c.send('three');
    while (c.raw.length < 20) await sleep(5);
    expect(c.raw).toBe('before|one|two|three');
  });

  it('drain() tells every client SHUTDOWN, keeps serving them, and turns new clients away with SHUTDOWN', async () => {
    const { server, connect } = await serve({ maxClients: 1 });
    const a = await connect();
    a.send('PING\n');
    await a.next();
    server.drain();
    expect(await a.next()).toBe('SHUTDOWN');
    a.send('PING\n');
    expect(await a.next()).toBe('PONG');
    const late = await connect(); // over max-clients too: SHUTDOWN wins over busy
    await late.waitClosed();
    expect(late.lines).toEqual(['SHUTDOWN']);
  });

  it('echo mode sends bytes back verbatim and SHUTDOWN without a newline', async () => {
    const { server, connect } = await serve({ protocol: 'echo', maxLine: 16 });
    const c = await connect();
    const payload = Buffer.from(`no newline limit ${'z'.repeat(100)}\r\n\x00\xff`, 'latin1');
    c.send(payload);
    while (c.raw.length < payload.toString('utf8').length) await sleep(5);
    expect(c.raw).toBe(payload.toString('utf8'));
    server.drain();
    await sleep(50);
    expect(c.raw.endsWith('SHUTDOWN')).toBe(true);
  });

  it('pushes to subscribers only, and drops a subscriber that does not read past the output cap', async () => {
    const { server, connect, rec } = await serve({ maxHeldBytes: 64 * 1024 });
    const sub = await connect();
    const other = await connect();
    sub.send('SUBSCRIBE\n');
    expect(await sub.next()).toBe('OK');
    server.publish('READING {"n":1}\n');
    expect(await sub.next()).toBe('READING {"n":1}');
    other.send('PING\n');
    expect(await other.next()).toBe('PONG');

    const slow = await connect();
    slow.send('SUBSCRIBE\n');
    expect(await slow.next()).toBe('OK');
    slow.socket.pause(); // stops reading: kernel buffers fill, then our queue
    const big = `READING ${'x'.repeat(16 * 1024)}\n`;
    for (let i = 0; i < 400 && !slow.isClosed; i++) {
      server.publish(big);
      await sleep(1);
    }
    slow.socket.resume();
    await slow.waitClosed(2000);
    expect(rec.msgs()).toContain('subscriber not reading: output cap reached, dropping connection');
    expect(sub.isClosed).toBe(false);
  });

  it('close() is idempotent and destroys every connection', async () => {
    const { server, connect } = await serve();
    const c = await connect();
    await server.close();
    await server.close();
    await c.waitClosed();
  });

  it('fails to listen on a port in use with a clear PINETD_E_LISTEN error', async () => {
    const { port } = await serve();
    const second = new PinetdServer({ host: '127.0.0.1', port, protocol: 'lines', maxClients: 1, maxLine: 64, idleTimeoutMs: 0, commands: { store: new KvStore(), status: () => ({}), readJson: () => undefined, historyJson: () => '[]' }, log: recordingLogger().log });
    await expect(second.listen()).rejects.toMatchObject({ code: 'PINETD_E_LISTEN', message: `cannot listen on 127.0.0.1:${port}: address already in use` });
  });

  it('closes a slow-loris line (a byte at a time, never a newline) at the line timeout, with ERR line-timeout', async () => {
    const { connect, rec } = await serve({ lineTimeoutMs: 400, idleTimeoutMs: 0 });
    const loris = await connect();
    const t0 = performance.now();
    loris.send('P');
    // Every byte resets no clock; off the timeout's beat (see test/daemon/limits.test.ts).
    const trickle = setInterval(() => loris.isClosed || loris.send('I'), 150);
    try {
      await loris.waitClosed(2000);
    } finally {
      clearInterval(trickle);
    }
    const ms = performance.now() - t0;
    expect(loris.lines).toEqual(['ERR line-timeout']);
    expect(ms).toBeGreaterThanOrEqual(350);
    expect(ms).toBeLessThan(1200);
    expect(rec.lines.find((l) => l.msg === 'request line not completed in time, closing')).toMatchObject({ lineTimeoutMs: 400 });
  });

  it('a client whose lines each complete in time is never cut off by the line timeout', async () => {
    const { connect } = await serve({ lineTimeoutMs: 300 });
    const c = await connect();
    for (let i = 0; i < 6; i++) {
      c.send('PI'); // each line takes ~150 ms; together far more than the timeout
      await sleep(150);
      c.send('NG\n');
      expect(await c.next()).toBe('PONG');
    }
    expect(c.isClosed).toBe(false);
  });

  it('does not count time paused toward the line timeout', async () => {
    const { server, connect } = await serve({ lineTimeoutMs: 400 });
    const c = await connect();
    c.send('EC');
    await sleep(200);
    server.pause();
    await sleep(600);
    server.resume();
    await sleep(100);
    expect(c.isClosed).toBe(false); // ~300 ms of unpaused time so far
    await c.waitClosed(600);
    expect(c.lines).toEqual(['ERR line-timeout']);
  });

  it('caps connections per address (loopback counts); another address is still admitted', async () => {
    const { connect, rec } = await serve({ maxClientsPerIp: 2 });
    const a = await connect();
    const b = await connect();
    for (const c of [a, b]) expect(await c.request('PING')).toBe('PONG');
    const third = await connect();
    await third.waitClosed();
    expect(third.lines).toEqual(['ERR busy']);
    const other = await connect('127.0.0.2');
    expect(await other.request('PING')).toBe('PONG');
    expect(rec.lines.find((l) => l.msg === 'connection refused')).toMatchObject({ reason: 'max clients per address' });
    // A slot comes back when its connection is gone.
    a.close();
    await sleep(100);
    const again = await connect();
    expect(await again.request('PING')).toBe('PONG');
  });

  it('--allow 127.0.0.1/32 admits 127.0.0.1 and answers 127.0.0.2 with one ERR forbidden line, logged rate-limited', async () => {
    const { connect, rec } = await serve({ allow: createAllowList(['127.0.0.1/32']) });
    const ok = await connect('127.0.0.1');
    expect(await ok.request('PING')).toBe('PONG');
    const refused: LineClient[] = [];
    for (let i = 0; i < 20; i++) refused.push(await connect('127.0.0.2'));
    for (const c of refused) {
      await c.waitClosed();
      expect(c.raw).toBe('ERR forbidden\n');
    }
    const logged = rec.lines.filter((l) => l.msg === 'connection refused');
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.length).toBeLessThanOrEqual(5); // a scan does not flood the journal
    expect(logged[0]).toMatchObject({ reason: 'not in --allow' });
    expect(String(logged[0]!.remote)).toMatch(/^127\.0\.0\.2:/);
  });

  it('after a fatal error line stops reading: a peer pushing data is cut off, not drained', async () => {
    const { port } = await serve({ maxLine: 16 });
    const result = await new Promise<{ got: string; accepted: number; ms: number }>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      let got = '';
      const t0 = performance.now();
      s.setEncoding('utf8').on('data', (d: string) => (got += d));
      s.on('error', () => {});
      const block = Buffer.alloc(1024 * 1024, 0x78);
      s.on('connect', () => {
        s.write(`${'x'.repeat(40)}\n`);
        const pump = (): void => {
          // Keep the socket's queue full for as long as the server takes bytes.
          while (!s.destroyed && s.write(block));
        };
        s.on('drain', pump);
        pump();
      });
      s.on('close', () => resolve({ got, accepted: s.bytesWritten, ms: performance.now() - t0 }));
    });
    expect(result.got).toBe('ERR line-too-long\n');
    expect(result.ms).toBeLessThan(1500);
    // Reading and discarding for the old 2 s would have taken gigabytes on loopback.
    expect(result.accepted).toBeLessThan(64 * 1024 * 1024);
  });

  it('answers a request line that is not valid UTF-8 with ERR invalid-utf8 and keeps the connection; valid UTF-8 round-trips', async () => {
    const { connect } = await serve();
    const c = await connect();
    c.send(Buffer.concat([Buffer.from('SET '), Buffer.from([0xfe]), Buffer.from(' v\nGET '), Buffer.from([0xff]), Buffer.from('\n')]));
    expect(await c.take(2)).toEqual(['ERR invalid-utf8', 'ERR invalid-utf8']);
    c.send('SET ключ é€😀 \u00a0x\nGET ключ\n');
    expect(await c.take(2)).toEqual(['OK', 'é€😀 \u00a0x']);
    expect(await c.request('PING')).toBe('PONG');
  });

  it('never reflects control bytes in an error line', async () => {
    const { connect } = await serve();
    const c = await connect();
    c.send(Buffer.from('G\x00E\x1b[31mT\r\x07X k\n', 'latin1'));
    const line = await c.next();
    expect(line).toBe('ERR unknown-command G?E?[31MT??X');
    expect(c.raw).toBe(`${line}\n`);
  });
});
