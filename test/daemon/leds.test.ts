/**
 * Status LEDs driven by the real daemon (in-process, real sockets and timers), asserted on
 * the mock backend's recorded write history.
 */
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULTS, type Config } from '../../src/config/options.js';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { createMockBackend, type MockBackend } from '../../src/gpio/mock.js';
import { LineClient } from '../helpers/client.js';
import { FIXTURES } from '../helpers/daemon.js';
import { recordingLogger } from '../helpers/fake.js';

const LEDS = { ready: 17, activity: 27, task: 22, error: 5 };
const PINS = Object.values(LEDS);

interface Timed {
  runs: Array<{ start: number; end: number }>;
  fail: boolean;
  ms: number;
}
const timed = (): Timed => ((globalThis as { __pinetdTimed?: Timed }).__pinetdTimed ??= { runs: [], fail: false, ms: 100 });

const running: Array<{ daemon: Daemon; client?: LineClient }> = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    r.client?.close();
    await r.daemon.server.close();
  }
});

async function boot(overrides: Partial<Config> = {}) {
  Object.assign(timed(), { runs: [], fail: false, ms: 100 });
  const backend: MockBackend = createMockBackend({ now: () => performance.now() });
  const rec = recordingLogger('info');
  const exits: number[] = [];
  let onExit: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => (onExit = resolve));
  const proc = new EventEmitter();
  const daemon = await startDaemon({
    config: { ...DEFAULTS, port: 0, gpio: 'mock', leds: LEDS, task: `${FIXTURES}tasks/timed.mjs`, pauseEvery: 0, ...overrides },
    log: rec.log,
    version: 'test',
    gpioBackend: backend,
    processTarget: proc,
    exit: (code) => {
      exits.push(code);
      onExit(code);
    },
  });
  const entry: { daemon: Daemon; client?: LineClient } = { daemon };
  running.push(entry);
  const connect = async () => (entry.client = await LineClient.connect(daemon.port));
  return { daemon, backend, rec, exits, exited, proc, connect };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

function expectAllOffAndReleased(backend: MockBackend): void {
  for (const pin of PINS) {
    expect(backend.value(pin), `BCM ${pin} level`).toBe(0);
    expect(backend.info(pin)?.open, `BCM ${pin} released`).toBe(false);
  }
}

describe('status LEDs in the running daemon', () => {
  it('ready is on while serving; STATUS reports the backend and every LED', async () => {
    const { backend, connect } = await boot();
    expect(backend.value(LEDS.ready)).toBe(1);
    const c = await connect();
    c.send('STATUS\n');
    const status = JSON.parse(await c.next()) as { gpio: string; leds: Record<string, string> };
    expect(status.gpio).toBe('mock');
    expect(status.leds).toEqual({ ready: 'on', activity: expect.any(String), task: 'off', error: 'off' });
  });

  it('the task LED is on exactly for the duration of a pause', async () => {
    const { backend, rec } = await boot({ pauseEvery: 300 });
    while (timed().runs.length < 2) await sleep(20);
    await sleep(20);
    const writes = backend.history(LEDS.task).filter((w) => w.t > 0);
    const [first, second] = timed().runs;
    const on = writes.filter((w) => w.value === 1).map((w) => w.t);
    const off = writes.filter((w) => w.value === 0).map((w) => w.t);
    // on just before the task starts, off just after it ends, for each run
    expect(on[0]!).toBeLessThanOrEqual(first!.start);
    expect(first!.start - on[0]!).toBeLessThan(20);
    expect(off.find((t) => t >= first!.end)! - first!.end).toBeLessThan(20);
    expect(on[1]!).toBeLessThanOrEqual(second!.start);
    expect(rec.msgs().filter((m) => m === 'paused').length).toBeGreaterThanOrEqual(2);
  });

  it('the error LED lights after a failed task and goes off after the next good one', async () => {
    const { backend } = await boot({ pauseEvery: 200 });
    timed().fail = true;
    await until(() => backend.value(LEDS.error) === 1);
    expect(timed().runs.length).toBeGreaterThanOrEqual(1);
    timed().fail = false;
    const failedRuns = timed().runs.length;
    await until(() => backend.value(LEDS.error) === 0);
    expect(timed().runs.length).toBeGreaterThan(failedRuns);
  });

  it('the activity LED pulses visibly on requests, without a write per request under a flood', async () => {
    const { backend, connect } = await boot();
    const c = await connect();
    c.send('PING\n'.repeat(2000));
    await c.take(2000);
    await sleep(150);
    const writes = backend.history(LEDS.activity);
    const ons = writes.filter((w) => w.value === 1);
    expect(ons.length).toBeGreaterThanOrEqual(1);
    expect(writes.length).toBeLessThan(20);
    const firstOn = writes.findIndex((w) => w.value === 1);
    const offAfter = writes.slice(firstOn).find((w) => w.value === 0)!;
    expect(offAfter.t - writes[firstOn]!.t).toBeGreaterThanOrEqual(29);
  });

  it('the countdown blinks ready at 2 Hz; at exit every LED is off and released', async () => {
    const { daemon, backend, exited, connect } = await boot({ shutdownGrace: 1600 });
    const c = await connect();
    c.send('PING\n');
    await c.next();
    const signalledAt = performance.now();
    daemon.shutdown.signal('SIGTERM');
    expect(await c.next()).toBe('SHUTDOWN');
    expect(await exited).toBe(0);
    const blink = backend.history(LEDS.ready).filter((w) => w.t >= signalledAt);
    const toggles = blink.slice(0, -1); // the last write is close() turning it off
    expect(toggles.length).toBeGreaterThanOrEqual(5);
    for (let i = 1; i < toggles.length; i++) {
      expect(toggles[i]!.value).not.toBe(toggles[i - 1]!.value);
      expect(toggles[i]!.t - toggles[i - 1]!.t).toBeGreaterThan(200);
      expect(toggles[i]!.t - toggles[i - 1]!.t).toBeLessThan(350);
    }
    expectAllOffAndReleased(backend);
  });

  it('a forced second-signal exit also leaves every LED off and released', async () => {
    const { daemon, backend, exits, connect } = await boot({ shutdownGrace: 30_000, pauseEvery: 100 });
    const c = await connect();
    c.send('PING\n');
    await c.next();
    daemon.shutdown.signal('SIGTERM');
    await sleep(50);
    daemon.shutdown.signal('SIGINT');
    expect(exits).toEqual([130]);
    expectAllOffAndReleased(backend);
  });

  it('the process exit hook releases the lines whatever ends the process', async () => {
    const { backend, proc } = await boot();
    expect(backend.value(LEDS.ready)).toBe(1);
    proc.emit('exit', 1); // e.g. process.exit(1) from an uncaught exception
    expectAllOffAndReleased(backend);
  });
});
