/** The HTTP routes of a real daemon, over real sockets: what a browser, curl or a monitor sees. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineClient } from '../../helpers/client.js';
import type { DaemonProcess } from '../../helpers/daemon.js';
import { eventsOf, openEvents, RawClient, request, startHttpDaemon } from './helpers.js';

let daemon: DaemonProcess;
let port: number;
let httpPort: number;

beforeAll(async () => {
  ({ daemon, port, httpPort } = await startHttpDaemon(['--pause-every', '200ms', '--task', 'test/fixtures/tasks/slow.mjs'], { PINETD_TEST_TASK_MS: '5' }));
  await daemon.waitFor(() => daemon.messages('resumed').length >= 5);
});
afterAll(async () => {
  daemon.kill('SIGKILL');
  await daemon.exited;
});

const SECURITY = { 'content-security-policy': "default-src 'self'", 'x-content-type-options': 'nosniff' };

describe('HTTP routes', () => {
  it('logs http listening with the real address and port', () => {
    expect(daemon.messages('http listening')[0]).toMatchObject({ address: '127.0.0.1', port: httpPort });
    expect(httpPort).toBeGreaterThan(0);
  });

  it('/healthz is 200 ok while serving, plain text, never cached', async () => {
    const res = await request(httpPort, '/healthz');
    expect(res).toMatchObject({ status: 200, body: 'ok\n', headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...SECURITY } });
  });

  it('/api/status, /api/reading and /api/history carry the same JSON as STATUS, READ and HISTORY', async () => {
    const tcp = await LineClient.connect(port);
    try {
      // Compare within one pause period: READ and HISTORY only change when a reading lands.
      for (let attempt = 0; attempt < 5; attempt++) {
        const [read, history, reading, hist] = await Promise.all([tcp.request('READ'), tcp.request('HISTORY 3'), request(httpPort, '/api/reading'), request(httpPort, '/api/history?n=3')]);
        if (read !== reading.body || history !== hist.body) continue;
        expect(reading.headers['content-type']).toBe('application/json; charset=utf-8');
        expect(reading.headers['cache-control']).toBe('no-store');
        expect(JSON.parse(reading.body)).toMatchObject({ ok: true, value: { runs: expect.any(Number) } });
        expect(JSON.parse(hist.body)).toHaveLength(3);
        const tcpStatus = JSON.parse(await tcp.request('STATUS')) as Record<string, unknown>;
        const status = JSON.parse((await request(httpPort, '/api/status')).body) as Record<string, unknown>;
        expect(Object.keys(status)).toEqual(Object.keys(tcpStatus));
        expect(status).toMatchObject({ state: 'serving', deviceId: tcpStatus.deviceId, task: tcpStatus.task, pid: tcpStatus.pid });
        return;
      }
      throw new Error('READ/HISTORY and /api never agreed in 5 tries');
    } finally {
      tcp.close();
    }
  });

  it('/api/history rejects a bad n with 400 and a usage error from the registry', async () => {
    const res = await request(httpPort, '/api/history?n=lots');
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ error: 'usage', usage: '/api/history?n=<0..100000>' });
    expect(JSON.parse((await request(httpPort, '/api/history?n=0')).body)).toEqual([]);
  });

  it('only GET and HEAD: 405 with Allow; HEAD has the headers and no body', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const res = await request(httpPort, '/api/status', { method });
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe('GET, HEAD');
      expect(res.headers).toMatchObject(SECURITY);
    }
    const head = await request(httpPort, '/metrics', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(Number(head.headers['content-length'])).toBeGreaterThan(100);
    expect(head.body).toBe('');
  });

  it('unknown paths are 404; a GET with a body is refused with 413', async () => {
    const res = await request(httpPort, '/etc/passwd');
    expect(res).toMatchObject({ status: 404, body: 'not found\n', headers: SECURITY });
    for (const framing of ['Content-Length: 5', 'Transfer-Encoding: chunked']) {
      const c = await RawClient.connect(httpPort);
      c.socket.write(`GET /api/status HTTP/1.1\r\nHost: t\r\n${framing}\r\n\r\n5\r\nhello`);
      await c.closed;
      expect(c.data).toMatch(/^HTTP\/1\.1 413 Payload Too Large\r\n/);
      expect(c.data).toMatch(/\r\nConnection: close\r\n/);
    }
  });

  it('serves the page, its script and stylesheet same-origin, revalidated by ETag', async () => {
    const page = await request(httpPort, '/');
    expect(page.status).toBe(200);
    expect(page.headers).toMatchObject({ 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache', ...SECURITY });
    expect(page.body).toContain('<script src="/app.js" defer></script>');
    expect(page.body).toContain('<link rel="stylesheet" href="/app.css">');
    for (const [path, type] of [['/app.js', 'text/javascript; charset=utf-8'], ['/app.css', 'text/css; charset=utf-8']] as const) {
      const res = await request(httpPort, path);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe(type);
      const again = await request(httpPort, path, { headers: { 'If-None-Match': String(res.headers.etag) } });
      expect(again.status).toBe(304);
      expect(again.body).toBe('');
    }
  });

  it('/events streams status and the latest reading at once, then every new reading with its at as id', async () => {
    const c = await openEvents(httpPort);
    try {
      await c.until(() => eventsOf(c).filter((e) => e.event === 'reading').length >= 3);
      expect(c.data).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(c.data).toMatch(/content-type: text\/event-stream; charset=utf-8/i);
      expect(c.data).toMatch(/cache-control: no-store/i);
      const events = eventsOf(c);
      expect(events[0]!.event).toBe('status');
      const readings = events.filter((e) => e.event === 'reading').map((e) => ({ id: e.id, r: JSON.parse(e.data) as { at: string; value: { runs: number } } }));
      for (const { id, r } of readings) expect(id).toBe(r.at);
      expect(readings[1]!.r.value.runs).toBe(readings[0]!.r.value.runs + 1);
    } finally {
      c.socket.destroy();
    }
  });

  it('Last-Event-ID resumes from the history: the readings after that id, none missed, none repeated', async () => {
    const history = JSON.parse((await request(httpPort, '/api/history?n=4')).body) as Array<{ at: string; value: { runs: number } }>;
    const c = await openEvents(httpPort, { 'Last-Event-ID': history[0]!.at });
    try {
      await c.until(() => eventsOf(c).filter((e) => e.event === 'reading').length >= 3);
      const runs = eventsOf(c)
        .filter((e) => e.event === 'reading')
        .map((e) => (JSON.parse(e.data) as { value: { runs: number } }).value.runs);
      expect(runs.slice(0, 3)).toEqual([history[1]!.value.runs, history[2]!.value.runs, history[3]!.value.runs]);
    } finally {
      c.socket.destroy();
    }
  });

  it('a malformed request line is answered 400 and closed', async () => {
    const c = await RawClient.connect(httpPort);
    c.socket.write('BLAH\r\n\r\n');
    await c.closed;
    expect(c.data).toMatch(/^HTTP\/1\.1 400 Bad Request/);
  });
});
