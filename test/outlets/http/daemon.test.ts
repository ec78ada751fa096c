/** The HTTP outlet in a real child daemon: options, the pause, the shutdown signal. */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { LineClient } from '../../helpers/client.js';
import { DaemonProcess, startDaemon } from '../../helpers/daemon.js';
import { eventsOf, openEvents, request, startHttpDaemon } from './helpers.js';

describe.concurrent('HTTP outlet in the daemon', () => {
  it('off by default: no HTTP listener, nothing logged for it', async () => {
    const { daemon } = await startDaemon(['--pause-every', '0']);
    daemon.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
    expect(daemon.logs.some((l) => l.msg.startsWith('http'))).toBe(false);
  });

  it('an invalid --http is one line and exit 78, before any socket', async () => {
    for (const bad of ['9998', 'localhost:http', '[::1:9998', '127.0.0.1:70000']) {
      const d = new DaemonProcess(['--port', '0', '--gpio', 'mock', '--http', bad]);
      const exit = await d.exited;
      expect(exit.code).toBe(78);
      expect(d.stderr).toBe(`pinetd: invalid value for --http: '${bad}' (expected HOST:PORT such as 127.0.0.1:9998, 0.0.0.0:9998 or [::1]:9998 (port 0 picks a free port), or off)\n`);
    }
  });

  it('an HTTP port already in use is exit 1 with one line naming the address, like the TCP port', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      const d = new DaemonProcess(['--port', '0', '--gpio', 'mock', '--http', `127.0.0.1:${port}`]);
      expect((await d.exited).code).toBe(1);
      expect(d.stderr).toBe(`pinetd: cannot listen for HTTP on 127.0.0.1:${port}: address already in use\n`);
    } finally {
      blocker.close();
    }
  });

  it('a request arriving during a pause is answered after the task, with its result', async () => {
    const { daemon, httpPort } = await startHttpDaemon(['--pause-every', '500ms', '--task', 'test/fixtures/tasks/slow.mjs'], { PINETD_TEST_TASK_MS: '600' });
    try {
      await daemon.waitForMsg('paused');
      const sent = performance.now();
      const res = await request(httpPort, '/api/status');
      const waited = performance.now() - sent;
      // Sent during the first pause: the answer already knows that pause's task result.
      const status = JSON.parse(res.body) as { state: string; pauses: number; lastTask: { ok: boolean } | null };
      expect(status).toMatchObject({ state: 'serving', lastTask: { ok: true } });
      expect(status.pauses).toBeGreaterThanOrEqual(1);
      expect(waited).toBeGreaterThan(300);
    } finally {
      daemon.kill('SIGKILL');
      await daemon.exited;
    }
  });

  it('SIGTERM: /healthz 503, streams get shutdown with the countdown, new streams 503, then a clean exit', async () => {
    const { daemon, port, httpPort } = await startHttpDaemon(['--pause-every', '0', '--shutdown-grace', '3s']);
    const tcp = await LineClient.connect(port); // keeps the countdown running
    const stream = await openEvents(httpPort);
    try {
      await stream.until(() => eventsOf(stream).some((e) => e.event === 'status'));
      expect((await request(httpPort, '/healthz')).status).toBe(200);
      daemon.kill('SIGTERM');
      await stream.until(() => eventsOf(stream).filter((e) => e.event === 'shutdown').length >= 2, 4000);
      const shutdowns = eventsOf(stream)
        .filter((e) => e.event === 'shutdown')
        .map((e) => (JSON.parse(e.data) as { remainingS: number }).remainingS);
      expect(shutdowns.slice(0, 2)).toEqual([3, 2]);
      expect(await request(httpPort, '/healthz')).toMatchObject({ status: 503, body: 'draining\n' });
      expect((await request(httpPort, '/events')).status).toBe(503);
      tcp.close();
      expect((await daemon.exited).code).toBe(0);
      await stream.closed;
    } finally {
      tcp.close();
      stream.socket.destroy();
      daemon.kill('SIGKILL');
    }
  });
});
