import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DISCARD_LIMIT, FATAL_DEADLINE_MS, FLUSH_DEADLINE_MS, retire } from '../../../src/outlets/tcp/retire.js';
import { fakeTimers } from '../../helpers/fake.js';

/** A real connected pair on port 0: `server` is the accepted side retire() is given. */
async function pair(): Promise<{ server: net.Socket; client: net.Socket; close: () => void }> {
  const listener = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const port = (listener.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((r) => listener.once('connection', r));
  const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  client.on('error', () => {});
  const server = await accepted;
  server.on('error', () => {});
  return {
    server,
    client,
    close: () => {
      client.destroy();
      server.destroy();
      listener.close();
    },
  };
}

const closed = (s: net.Socket): Promise<void> => (s.destroyed && s.closed ? Promise.resolve() : new Promise((r) => s.once('close', () => r())));
// Taken before any test fakes the clock: lets real socket I/O run while the fake clock stands still.
const realSetTimeout = globalThis.setTimeout;
const io = (ms = 30): Promise<void> => new Promise((r) => realSetTimeout(r, ms));

afterEach(() => {
  vi.useRealTimers();
});

describe('retire (ending a socket from our side)', () => {
  it('graceful: a peer that reads gets the last line and every byte before it, then the socket closes', async () => {
    const { server, client, close } = await pair();
    let got = '';
    client.setEncoding('utf8').on('data', (d: string) => (got += d));
    client.on('end', () => client.end());
    server.write('x'.repeat(100_000));
    retire(server, fakeTimers, 'BYE\n');
    await closed(server);
    expect(got.length).toBe(100_004);
    expect(got.endsWith('BYE\n')).toBe(true);
    close();
  });

  it('graceful: a peer that neither reads nor closes is dropped once a flush interval passes without progress', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { server, client, close } = await pair();
    client.pause();
    // Far more than the kernel's buffers take: the rest waits in our queue.
    retire(server, fakeTimers, 'y'.repeat(8 * 1024 * 1024));
    await io();
    expect(server.writableLength).toBeGreaterThan(0);
    vi.advanceTimersByTime(FLUSH_DEADLINE_MS - 1);
    expect(server.destroyed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(server.destroyed).toBe(true);
    close();
  });

  it('graceful: reads and throws away what the peer still sends, but destroys the socket past DISCARD_LIMIT', async () => {
    // The clock stands still: only the discard limit can end this socket.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { server, client, close } = await pair();
    retire(server, fakeTimers);
    client.write(Buffer.alloc(DISCARD_LIMIT / 2));
    await io(50);
    // Still open: the peer's FIN is awaited, its late bytes are read so no RST can eat our last line.
    expect(server.destroyed).toBe(false);
    client.write(Buffer.alloc(DISCARD_LIMIT));
    await closed(server);
    expect(server.bytesRead).toBeGreaterThan(DISCARD_LIMIT);
    close();
  });

  it('fatal: stops reading at once and destroys the socket after FATAL_DEADLINE_MS if the peer does not take the last line', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { server, client, close } = await pair();
    client.pause();
    // Read as a connection reads, until retire() stops it.
    server.on('data', () => {});
    server.resume();
    await io();
    retire(server, fakeTimers, `${'z'.repeat(8 * 1024 * 1024)}\n`, 'fatal');
    client.write(Buffer.alloc(1024 * 1024));
    await io();
    // At most the one read a paused stream still makes (Node fills its buffer once); the rest
    // stays in the kernel, held back by TCP flow control.
    expect(server.bytesRead).toBeLessThanOrEqual(64 * 1024);
    expect(server.destroyed).toBe(false);
    vi.advanceTimersByTime(FATAL_DEADLINE_MS);
    expect(server.destroyed).toBe(true);
    close();
  });

  it('fatal: destroys the socket as soon as the last line is with the kernel', async () => {
    const { server, client, close } = await pair();
    let got = '';
    client.setEncoding('utf8').on('data', (d: string) => (got += d));
    retire(server, fakeTimers, 'ERR line-too-long\n', 'fatal');
    await closed(server);
    await new Promise((r) => client.once('end', r));
    expect(got).toBe('ERR line-too-long\n');
    close();
  });
});
