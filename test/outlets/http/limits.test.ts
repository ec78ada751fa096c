/** The listener's limits, in-process over real sockets: timeouts, connection caps, --allow. */
import { afterEach, describe, expect, it } from 'vitest';
import { inProcess, RawClient, request, type InProcess } from './helpers.js';

let open: InProcess[] = [];
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.socket.destroy();
  await Promise.all(open.map((o) => o.close()));
  open = [];
});
async function start(...args: Parameters<typeof inProcess>): Promise<InProcess> {
  const o = await inProcess(...args);
  open.push(o);
  return o;
}
async function connect(port: number, localAddress?: string): Promise<RawClient> {
  const c = await RawClient.connect(port, localAddress);
  clients.push(c);
  return c;
}
const TIMEOUTS = { headersMs: 300, requestMs: 400, keepAliveMs: 300, checkEveryMs: 50 };

describe('HTTP limits', () => {
  it('answers a client that never finishes its headers with 408 and closes it (slowloris)', async () => {
    const { port } = await start({ deps: { timeouts: TIMEOUTS } });
    const c = await connect(port);
    const t0 = performance.now();
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ');
    await c.closed;
    expect(c.data).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
  });

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const { port } = await start({ deps: { timeouts: TIMEOUTS } });
    const c = await connect(port);
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n');
    await c.until((d) => d.endsWith('ok\n'));
    const answeredAt = performance.now();
    expect(c.data).toMatch(/\r\nConnection: keep-alive\r\n/);
    await c.closed;
    expect(performance.now() - answeredAt).toBeGreaterThanOrEqual(250);
  });

  it('--http-max-clients: a connection over the cap gets 503 busy and is closed; a slot freed is usable again', async () => {
    const { port } = await start({ config: { httpMaxClients: 2, maxClientsPerIp: 0 } });
    const a = await connect(port);
    const b = await connect(port);
    for (const c of [a, b]) {
      c.socket.write('GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n');
      await c.until((d) => d.endsWith('ok\n'));
    }
    const third = await connect(port);
    await third.closed;
    expect(third.data).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(third.data).toMatch(/Retry-After: 5\r\n/);
    expect(third.data).toMatch(/\r\n\r\nbusy\n$/);
    a.socket.destroy();
    await a.closed;
    // the server sees the close a moment later: retry until the slot is free
    for (let i = 0; ; i++) {
      const res = await request(port, '/healthz').catch(() => undefined);
      if (res?.status === 200) break;
      if (i > 50) throw new Error('slot never freed');
    }
  });

  it('--max-clients-per-ip caps connections from one address, not from another', async () => {
    const { port } = await start({ config: { maxClientsPerIp: 1 } });
    const a = await connect(port);
    a.socket.write('GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n');
    await a.until((d) => d.endsWith('ok\n'));
    const again = await connect(port);
    await again.closed;
    expect(again.data).toMatch(/^HTTP\/1\.1 503 /);
    expect((await request(port, '/healthz', { localAddress: '127.0.0.2' })).status).toBe(200);
  });

  it('--allow: 127.0.0.1 is served, 127.0.0.2 gets 403 and is closed before any request is parsed', async () => {
    const o = await start({ config: { allow: ['127.0.0.1/32'] } });
    expect((await request(o.port, '/healthz')).status).toBe(200);
    const other = await connect(o.port, '127.0.0.2');
    await other.closed;
    expect(other.data).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(other.data).toMatch(/Content-Security-Policy: default-src 'self'\r\n/);
    expect(o.rec.lines.find((l) => l.msg === 'http connection refused')).toMatchObject({ reason: 'forbidden', remote: expect.stringMatching(/^127\.0\.0\.2:/) });
  });

  it('a request held by a pause is answered after it, in order, with the state after the pause', async () => {
    const o = await start();
    o.hub.pauseStarted();
    const answered: string[] = [];
    const first = request(o.port, '/api/status').then((r) => (answered.push('status'), r));
    const second = request(o.port, '/healthz').then((r) => (answered.push('healthz'), r));
    // Wait (on event-loop turns, bounded) until both requests are parsed and held.
    for (let i = 0; o.outlet.held < 2; i++) {
      if (i > 10_000) throw new Error('requests never reached the server');
      await new Promise((r) => setImmediate(r));
    }
    expect(answered).toEqual([]);
    o.hub.recordTask({ ok: true, durationMs: 5, at: '2026-01-01T00:00:00.000Z', value: { x: 1 } });
    o.hub.pauseEnded();
    const status = JSON.parse((await first).body) as { state: string; lastTask: { at: string } };
    expect((await second).body).toBe('ok\n');
    expect(status).toMatchObject({ state: 'serving', lastTask: { at: '2026-01-01T00:00:00.000Z' } });
    expect(answered).toEqual(['status', 'healthz']);
  });

  it('the requests a pause may hold are bounded: one more is answered 503 at once, the held ones after', async () => {
    const o = await start({ deps: { maxHeld: 2 } });
    o.hub.pauseStarted();
    const held = [request(o.port, '/healthz'), request(o.port, '/healthz')];
    for (let i = 0; o.outlet.held < 2; i++) {
      if (i > 10_000) throw new Error('requests never reached the server');
      await new Promise((r) => setImmediate(r));
    }
    const over = await request(o.port, '/healthz');
    expect(over).toMatchObject({ status: 503, headers: { 'retry-after': '1' } });
    expect(o.outlet.held).toBe(2);
    o.hub.pauseEnded();
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200]);
  });
});
