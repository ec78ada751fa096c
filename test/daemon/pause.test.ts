/** The pause cycle as a user sees it, against a real daemon and real tasks. */
import { describe, expect, it } from 'vitest';
import { LineClient } from '../helpers/client.js';
import { startDaemon, type DaemonProcess } from '../helpers/daemon.js';

interface Status {
  state: string;
  clients: number;
  pauses: number;
  skippedPauses: number;
  lastTask: { ok: boolean; error?: { code: string } } | null;
}

async function status(c: LineClient): Promise<Status> {
  c.send('STATUS\n');
  return JSON.parse(await c.next()) as Status;
}

async function stop(daemon: DaemonProcess): Promise<void> {
  daemon.kill('SIGKILL');
  await daemon.exited;
}

describe.concurrent('pause cycle', () => {
  it('holds requests sent during a pause and answers them all afterwards, in order', async () => {
    const { daemon, port } = await startDaemon(['--pause-every', '1s', '--task', 'test/fixtures/tasks/slow.mjs'], { PINETD_TEST_TASK_MS: '700' });
    try {
      const c = await LineClient.connect(port);
      await daemon.waitForMsg('paused');
      const sentAt = performance.now();
      const n = 200;
      for (let i = 0; i < n; i++) c.send(`ECHO ${i}\n`);
      const late = await LineClient.connect(port); // connects during the pause
      late.send('PING\n');
      const lines = await c.take(n, 5000);
      const answeredAfter = performance.now() - sentAt;
      expect(lines).toEqual(Array.from({ length: n }, (_, i) => String(i)));
      expect(await late.next()).toBe('PONG');
      await daemon.waitForMsg('resumed');
      // nothing was answered until the 700 ms task finished
      expect(answeredAfter).toBeGreaterThan(400);
      c.close();
      late.close();
    } finally {
      await stop(daemon);
    }
  });

  it('HISTORY holds the last --history readings, oldest first, the newest equal to READ; STATUS counts them', async () => {
    const { daemon, port } = await startDaemon(['--pause-every', '100ms', '--history', '3', '--task', 'test/fixtures/tasks/slow.mjs'], { PINETD_TEST_TASK_MS: '5' });
    try {
      const c = await LineClient.connect(port);
      expect(await c.request('HISTORY')).toBe('[]');
      await daemon.waitFor(() => daemon.messages('resumed').length >= 5, 5000);
      const history = JSON.parse(await c.request('HISTORY')) as Array<{ at: string; durationMs: number; value: { runs: number } }>;
      expect(history).toHaveLength(3);
      const runs = history.map((r) => r.value.runs);
      expect(runs).toEqual([runs[0]!, runs[0]! + 1, runs[0]! + 2]);
      expect(Object.keys(history[0]!)).toEqual(['at', 'durationMs', 'value']);
      const last = JSON.parse(await c.request('HISTORY 1')) as typeof history;
      const read = JSON.parse(await c.request('READ')) as { at: string; durationMs: number; value: unknown };
      expect(last).toHaveLength(1);
      expect({ at: read.at, durationMs: read.durationMs, value: read.value }).toEqual(last[0]);
      const status = JSON.parse(await c.request('STATUS')) as { history: number; historyDropped: number };
      expect(status).toMatchObject({ history: 3, historyDropped: 0 });
      expect(await c.request('HISTORY many')).toBe('ERR usage HISTORY [n]');
      c.close();
    } finally {
      await stop(daemon);
    }
  });

  it('records each run: READ has the latest value, STATUS counts pauses; logs paused/resumed with durationMs', async () => {
    const { daemon, port } = await startDaemon(['--pause-every', '300ms', '--task', 'test/fixtures/tasks/slow.mjs'], { PINETD_TEST_TASK_MS: '50' });
    try {
      const c = await LineClient.connect(port);
      c.send('READ\n');
      expect(await c.next()).toBe('ERR no-reading');
      await daemon.waitFor((l) => l.msg === 'resumed' && daemon.messages('resumed').length >= 2, 5000);
      c.send('READ\n');
      const reading = JSON.parse(await c.next()) as { at: string; ok: boolean; durationMs: number; value: { runs: number } };
      expect(reading.ok).toBe(true);
      expect(reading.value.runs).toBeGreaterThanOrEqual(2);
      expect(new Date(reading.at).toISOString()).toBe(reading.at);
      expect(reading.durationMs).toBeGreaterThanOrEqual(45);
      const s = await status(c);
      expect(s).toMatchObject({ state: 'serving', clients: 1, lastTask: { ok: true } });
      expect(s.pauses).toBeGreaterThanOrEqual(2);
      expect(daemon.messages('resumed')[0]!.durationMs).toBeGreaterThanOrEqual(45);
      c.close();
    } finally {
      await stop(daemon);
    }
  });

  it('a failing task is logged and recorded, and the cycle goes on', async () => {
    const { daemon, port } = await startDaemon(['--pause-every', '200ms', '--task', 'test/fixtures/tasks/fail.mjs']);
    try {
      await daemon.waitFor(() => daemon.messages('task failed').length >= 2, 5000);
      const failure = daemon.messages('task failed')[0]!;
      expect((failure.err as { message: string }).message).toContain('sensor on fire');
      const c = await LineClient.connect(port);
      const s = await status(c);
      expect(s.lastTask).toMatchObject({ ok: false, error: { code: 'PINETD_E_TASK_FAILED' } });
      expect(s.pauses).toBeGreaterThanOrEqual(2);
      c.send('READ\n');
      expect(await c.next()).toBe('ERR no-reading');
      c.close();
    } finally {
      await stop(daemon);
    }
  });

  it('a hanging task is abandoned at --task-timeout, serving resumes, and it never overlaps itself', async () => {
    const { daemon, port } = await startDaemon(['--pause-every', '250ms', '--task-timeout', '200ms', '--task', 'test/fixtures/tasks/hang.mjs']);
    try {
      await daemon.waitFor(() => daemon.messages('previous task still running: skipping this pause').length >= 2, 5000);
      const failed = daemon.messages('task failed')[0]!;
      expect((failed.err as { code: string }).code).toBe('PINETD_E_TASK_TIMEOUT');
      expect(daemon.messages('paused')).toHaveLength(1);
      const c = await LineClient.connect(port);
      c.send('PING\n');
      expect(await c.next()).toBe('PONG');
      const s = await status(c);
      expect(s).toMatchObject({ state: 'serving', pauses: 1, lastTask: { ok: false, error: { code: 'PINETD_E_TASK_TIMEOUT' } } });
      expect(s.skippedPauses).toBeGreaterThanOrEqual(2);
      c.close();
    } finally {
      await stop(daemon);
    }
  });

  it('SUBSCRIBE pushes a READING after each run, once its pause has ended, until UNSUBSCRIBE', async () => {
    const { daemon, port } = await startDaemon(['--pause-every', '400ms', '--task', 'test/fixtures/tasks/slow.mjs'], { PINETD_TEST_TASK_MS: '150' });
    try {
      const c = await LineClient.connect(port);
      c.send('SUBSCRIBE\n');
      expect(await c.next()).toBe('OK');
      const first = await c.next(3000);
      expect(first).toMatch(/^READING \{/);
      const reading = JSON.parse(first.slice('READING '.length)) as { ok: boolean; value: { runs: number } };
      expect(reading).toMatchObject({ ok: true, value: { runs: expect.any(Number) } });
      // pushed after the pause ended: the daemon had logged 'resumed' for that run
      expect(daemon.messages('resumed').length).toBeGreaterThanOrEqual(reading.value.runs);
      const second = JSON.parse((await c.next(3000)).slice('READING '.length)) as { value: { runs: number } };
      expect(second.value.runs).toBe(reading.value.runs + 1);
      c.send('UNSUBSCRIBE\n');
      // a READING may already be in flight; after OK, no more come
      let line = await c.next();
      while (line.startsWith('READING ')) line = await c.next();
      expect(line).toBe('OK');
      const resumedBefore = daemon.messages('resumed').length;
      await daemon.waitFor(() => daemon.messages('resumed').length >= resumedBefore + 2, 3000);
      c.send('PING\n');
      expect(await c.next()).toBe('PONG');
      c.close();
    } finally {
      await stop(daemon);
    }
  });

  it('the built-in board task reports temperature (or null) and load average', async () => {
    const { daemon, port } = await startDaemon(['--pause-every', '100ms']);
    try {
      await daemon.waitForMsg('resumed');
      const c = await LineClient.connect(port);
      c.send('READ\n');
      const reading = JSON.parse(await c.next()) as { value: { socTempC: number | null; loadAvg: number[] } };
      expect(reading.value.loadAvg).toHaveLength(3);
      expect(reading.value.socTempC === null || typeof reading.value.socTempC === 'number').toBe(true);
      c.close();
    } finally {
      await stop(daemon);
    }
  });
});
