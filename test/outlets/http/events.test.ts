/** /events in-process on a real hub and real sockets, with the outlet's timers driven by hand. */
import { afterEach, describe, expect, it } from 'vitest';
import { eventsOf, inProcess, openEvents, parseEvents, dechunk, request, type InProcess, type RawClient } from './helpers.js';

let open: InProcess | undefined;
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.socket.destroy();
  await open?.close();
  open = undefined;
});
async function stream(o: InProcess, headers?: Record<string, string>): Promise<RawClient> {
  const c = await openEvents(o.port, headers);
  clients.push(c);
  await c.until(() => eventsOf(c).some((e) => e.event === 'status'));
  return c;
}
const named = (c: RawClient, event: string) => eventsOf(c).filter((e) => e.event === event);

describe('/events', () => {
  it('sends a heartbeat comment every 15 s, and only while a stream is open', async () => {
    const o = (open = await inProcess());
    expect(o.timers.pending).toBe(0);
    const c = await stream(o);
    o.timers.advance(14_999);
    o.timers.advance(1);
    await c.until(() => parseEvents(dechunk(c.data)).heartbeats === 1);
    o.timers.advance(15_000);
    await c.until(() => parseEvents(dechunk(c.data)).heartbeats === 2);
    c.socket.destroy();
    await c.closed;
    for (let i = 0; o.timers.pending > 0; i++) {
      if (i > 10_000) throw new Error('heartbeat timer still armed with no stream');
      await new Promise((r) => setImmediate(r));
    }
  });

  it('holds pushes during a pause and sends them after the resume', async () => {
    const o = (open = await inProcess());
    const c = await stream(o);
    const before = named(c, 'status').length;
    o.hub.pauseStarted();
    o.hub.setClients(3);
    o.timers.advance(15_000); // the heartbeat is not held: it proves nothing was sent before it
    await c.until(() => parseEvents(dechunk(c.data)).heartbeats === 1);
    expect(named(c, 'status')).toHaveLength(before);
    o.hub.recordTask({ ok: true, durationMs: 4, at: '2026-02-01T00:00:00.000Z', value: { level: 2 } });
    o.hub.pauseEnded();
    o.hub.publish();
    await c.until(() => named(c, 'reading').length === 1);
    o.timers.advance(100);
    await c.until(() => named(c, 'status').length === before + 1);
    const status = JSON.parse(named(c, 'status').at(-1)!.data) as { state: string; clients: number; lastTask: { at: string } };
    expect(status).toMatchObject({ state: 'serving', clients: 3, lastTask: { at: '2026-02-01T00:00:00.000Z' } });
  });

  it('coalesces a burst of client changes into one status event', async () => {
    const o = (open = await inProcess());
    const c = await stream(o);
    const before = named(c, 'status').length;
    for (let n = 1; n <= 50; n++) o.hub.setClients(n);
    o.timers.advance(100);
    await c.until(() => named(c, 'status').length === before + 1);
    o.reading({ x: 1 });
    await c.until(() => named(c, 'reading').length === 1);
    expect(named(c, 'status')).toHaveLength(before + 1);
    expect((JSON.parse(named(c, 'status').at(-1)!.data) as { clients: number }).clients).toBe(50);
  });

  it('drops a stream whose reader stopped reading once its queued output passes the cap', async () => {
    const o = (open = await inProcess({ deps: { maxStreamOutput: 64 * 1024 } }));
    const slow = await stream(o);
    const good = await stream(o);
    slow.socket.pause();
    const big = 'x'.repeat(60_000);
    for (let i = 0; i < 400 && !o.rec.lines.some((l) => l.msg === 'event stream dropped: not reading'); i++) {
      o.reading({ big, i });
      await new Promise((r) => setImmediate(r));
    }
    const dropped = o.rec.lines.find((l) => l.msg === 'event stream dropped: not reading');
    expect(dropped).toMatchObject({ queuedBytes: expect.any(Number) });
    expect(dropped!.queuedBytes).toBeGreaterThan(64 * 1024);
    // the reading client is still served, and the metrics count one stream
    const metrics = await request(o.port, '/metrics');
    expect(metrics.body).toMatch(/^pinetd_http_event_streams 1$/m);
    good.socket.destroy();
  });

  it('at the shutdown signal: shutdown with the seconds left, each countdown second, /healthz 503, new streams 503', async () => {
    const o = (open = await inProcess());
    const c = await stream(o);
    o.hub.beginDrain(5000);
    await c.until(() => named(c, 'shutdown').length === 1);
    expect(JSON.parse(named(c, 'shutdown')[0]!.data)).toEqual({ remainingS: 5 });
    o.hub.countdown(5); // the shutdown's own first tick repeats the signal's value: not sent twice
    o.hub.countdown(4);
    await c.until(() => named(c, 'shutdown').length === 2);
    expect(JSON.parse(named(c, 'shutdown')[1]!.data)).toEqual({ remainingS: 4 });
    expect(JSON.parse(named(c, 'status').at(-1)!.data)).toMatchObject({ state: 'draining' });
    expect(await request(o.port, '/healthz')).toMatchObject({ status: 503, body: 'draining\n' });
    expect(await request(o.port, '/events')).toMatchObject({ status: 503, body: 'draining\n' });
    expect((await request(o.port, '/api/status')).status).toBe(200);
    await o.close();
    await c.closed;
    await expect(request(o.port, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
  });
});
