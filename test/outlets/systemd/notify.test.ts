/**
 * The notifier against a fake `systemd-notify` first on PATH: a real executable, spawned for real
 * by both the npm package (READY/STATUS) and the raw path (WATCHDOG/STOPPING), that appends its
 * argv to a file. Fake timers drive the watchdog period only; child processes run on real time.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createNotifier, type NotifierOptions } from '../../../src/outlets/systemd/notify.js';
import { realTimers, type TimerHandle, type Timers } from '../../../src/util/timers.js';

const FAKE_CLI = `#!/usr/bin/env node
const fs = require('node:fs');
fs.appendFileSync(process.env.FAKE_NOTIFY_LOG, JSON.stringify({ argv: process.argv.slice(2), socket: process.env.NOTIFY_SOCKET }) + '\\n');
const code = Number(process.env.FAKE_NOTIFY_EXIT || 0);
setTimeout(() => {
  if (code !== 0) process.stderr.write('Failed to notify init system: Connection refused\\n');
  process.exit(code);
}, Number(process.env.FAKE_NOTIFY_DELAY_MS || 0));
`;

let dir: string;
let binDir: string;
let emptyDir: string;
let logFile: string;

interface Call {
  argv: string[];
  socket?: string;
}

function calls(): Call[] {
  if (!existsSync(logFile)) return [];
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Call);
}

function logCapture() {
  const lines: Array<{ level: number; msg: string; kind?: string; err?: { message: string; code?: string } }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

function notifier(extra: Partial<NotifierOptions> = {}, env: Record<string, string> = { NOTIFY_SOCKET: '/run/fake/notify' }) {
  const capture = logCapture();
  const n = createNotifier({ log: capture.log, env, ...extra });
  return { n, lines: capture.lines };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pinetd-notify-'));
  binDir = join(dir, 'bin');
  emptyDir = join(dir, 'empty');
  mkdirSync(binDir);
  mkdirSync(emptyDir);
  writeFileSync(join(binDir, 'systemd-notify'), FAKE_CLI);
  chmodSync(join(binDir, 'systemd-notify'), 0o755);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeEach(() => {
  logFile = join(dir, `calls-${Math.random().toString(36).slice(2)}.jsonl`);
  vi.stubEnv('PATH', `${binDir}:${process.env.PATH ?? ''}`);
  vi.stubEnv('FAKE_NOTIFY_LOG', logFile);
  vi.stubEnv('FAKE_NOTIFY_EXIT', '0');
  vi.stubEnv('FAKE_NOTIFY_DELAY_MS', '0');
  // The CLI child inherits process.env, as the real one would inherit it from systemd.
  vi.stubEnv('NOTIFY_SOCKET', '/run/fake/notify');
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

const PID = `--pid=${process.pid}`;

describe('outside systemd (no NOTIFY_SOCKET)', () => {
  it('spawns nothing and arms no timer, even with WATCHDOG_USEC set', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { n, lines } = notifier({}, { WATCHDOG_USEC: '2000000' });
    expect(n.enabled).toBe(false);
    expect(n.watchdogMs).toBeNull();
    expect(vi.getTimerCount()).toBe(0);
    n.ready('listening on 127.0.0.1:9999');
    n.status('serving 1 client');
    n.stopping('shutting down');
    await n.flush();
    vi.advanceTimersByTime(60_000);
    expect(calls()).toEqual([]);
    expect(lines).toEqual([]);
    n.close();
  });
});

describe('READY, STATUS, STOPPING', () => {
  it('sends READY=1 with the status, then later statuses, then STOPPING=1, in call order, with our PID', async () => {
    const { n, lines } = notifier();
    expect(n.enabled).toBe(true);
    n.ready('listening on 127.0.0.1:9999');
    await n.flush();
    n.status('serving 1 client');
    await n.flush();
    n.stopping('shutting down in 3s');
    await n.flush();
    expect(calls().map((c) => c.argv)).toEqual([
      ['--ready', PID, '--status=listening on 127.0.0.1:9999'],
      [PID, '--status=serving 1 client'],
      [PID, 'STOPPING=1', 'STATUS=shutting down in 3s'],
    ]);
    expect(calls().every((c) => c.socket === '/run/fake/notify')).toBe(true);
    expect(lines).toEqual([]);
    n.close();
  });

  it('keeps READY ahead of STOPPING ahead of a newer STATUS when called back to back', async () => {
    const { n } = notifier();
    n.ready('up');
    n.stopping();
    n.status('shutting down in 3s');
    await n.flush();
    expect(calls().map((c) => c.argv)).toEqual([
      ['--ready', PID, '--status=up'],
      [PID, 'STOPPING=1', 'STATUS=shutting down in 3s'],
    ]);
    n.close();
  });

  it('coalesces a burst of 100 status changes into one process for the latest text', async () => {
    vi.stubEnv('FAKE_NOTIFY_DELAY_MS', '150'); // keeps the READY child in flight during the burst
    const { n } = notifier();
    n.ready('listening');
    for (let i = 1; i <= 100; i++) n.status(`serving ${i} clients`);
    await n.flush();
    expect(calls().map((c) => c.argv)).toEqual([
      ['--ready', PID, '--status=listening'],
      [PID, '--status=serving 100 clients'],
    ]);
    n.close();
  });

  it('drops a status identical to the last one sent', async () => {
    const { n } = notifier();
    n.status('serving 2 clients');
    await n.flush();
    n.status('serving 2 clients');
    n.status('serving 2 clients');
    await n.flush();
    n.status('serving 3 clients');
    n.status('serving 2 clients'); // back to what systemd already shows while 3 was in flight
    await n.flush();
    expect(calls().map((c) => c.argv)).toEqual([
      [PID, '--status=serving 2 clients'],
      [PID, '--status=serving 3 clients'],
      [PID, '--status=serving 2 clients'],
    ]);
    n.close();
  });

  it('keeps a status on one line, so text cannot inject READY=1 or other fields', async () => {
    const { n } = notifier();
    n.status('evil\nREADY=1\r\nMAINPID=1');
    await n.flush();
    expect(calls().map((c) => c.argv)).toEqual([[PID, '--status=evil READY=1 MAINPID=1']]);
    n.close();
  });
});

describe('watchdog', () => {
  it('sends WATCHDOG=1 every WATCHDOG_USEC/2 from a timer, and close() stops it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { n, lines } = notifier({}, { NOTIFY_SOCKET: '/run/fake/notify', WATCHDOG_USEC: '2000000', WATCHDOG_PID: String(process.pid) });
    expect(n.watchdogMs).toBe(1000);
    vi.advanceTimersByTime(999);
    await n.flush();
    expect(calls()).toEqual([]);
    vi.advanceTimersByTime(1);
    await n.flush();
    expect(calls().map((c) => c.argv)).toEqual([[PID, 'WATCHDOG=1']]);
    vi.advanceTimersByTime(1000);
    await n.flush();
    expect(calls()).toHaveLength(2);
    n.close();
    n.close(); // idempotent
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    await n.flush();
    expect(calls()).toHaveLength(2);
    expect(lines).toEqual([]);
  });

  it('never has two pings in flight: a slow CLI skips a beat instead of piling up processes', async () => {
    vi.stubEnv('FAKE_NOTIFY_DELAY_MS', '300');
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { n } = notifier({}, { NOTIFY_SOCKET: '/run/fake/notify', WATCHDOG_USEC: '20000' });
    expect(n.watchdogMs).toBe(10);
    for (let i = 0; i < 20; i++) vi.advanceTimersByTime(10); // 20 beats while the first ping is still running
    n.close();
    await n.flush();
    expect(calls()).toHaveLength(1);
  });

  it('does not ping for another process (WATCHDOG_PID mismatch) or without WATCHDOG_USEC', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const other = notifier({}, { NOTIFY_SOCKET: '/run/fake/notify', WATCHDOG_USEC: '2000000', WATCHDOG_PID: String(process.pid + 1) });
    const none = notifier();
    expect(other.n.watchdogMs).toBeNull();
    expect(none.n.watchdogMs).toBeNull();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('uses an unref-ed timer, so an armed watchdog never keeps the daemon alive', () => {
    const handles: TimerHandle[] = [];
    const timers: Timers = { ...realTimers, setTimeout: (fn, ms, ...args) => (handles.push(realTimers.setTimeout(fn, ms, ...args)), handles.at(-1)!) };
    const { n } = notifier({ timers }, { NOTIFY_SOCKET: '/run/fake/notify', WATCHDOG_USEC: '60000000' });
    expect(handles).toHaveLength(1);
    expect(handles[0]!.hasRef()).toBe(false);
    n.close();
  });
});

describe('failures never throw and are logged once per kind', () => {
  it('CLI exiting non-zero: one warning per kind with its stderr, later ones at debug', async () => {
    vi.stubEnv('FAKE_NOTIFY_EXIT', '1');
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { n, lines } = notifier({}, { NOTIFY_SOCKET: '/run/fake/notify', WATCHDOG_USEC: '20000' });
    for (const text of ['a', 'b', 'c']) {
      n.status(text);
      await n.flush();
    }
    for (let i = 0; i < 3; i++) {
      vi.advanceTimersByTime(10);
      await n.flush();
    }
    n.stopping();
    await n.flush();
    n.close();
    expect(calls()).toHaveLength(7);
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings.map((l) => l.kind).sort()).toEqual(['status', 'stopping', 'watchdog']);
    expect(warnings.every((l) => l.err?.message === 'Failed to notify init system: Connection refused')).toBe(true);
    expect(lines.filter((l) => l.level === 20)).toHaveLength(4); // 2 status + 2 watchdog repeats
  });

  it('CLI missing from PATH (ENOENT): logged, not thrown, and the queue keeps draining', async () => {
    vi.stubEnv('PATH', emptyDir);
    const { n, lines } = notifier();
    n.ready('up');
    await n.flush();
    n.status('serving 1 client');
    await n.flush();
    n.stopping('bye');
    await n.flush();
    n.close();
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings.map((l) => l.kind)).toEqual(['ready', 'status', 'stopping']);
    expect(warnings.every((l) => l.err?.code === 'ENOENT')).toBe(true);
  });

  it('a spawn function that throws synchronously is contained too', async () => {
    const spawnFn = () => {
      throw Object.assign(new Error('spawn EAGAIN'), { code: 'EAGAIN' });
    };
    const { n, lines } = notifier({ spawnFn });
    expect(() => n.stopping()).not.toThrow();
    await n.flush();
    expect(lines.map((l) => [l.level, l.kind, l.err?.code])).toEqual([[40, 'stopping', 'EAGAIN']]);
  });
});

describe('close()', () => {
  it('is idempotent and later calls are ignored', async () => {
    const { n } = notifier();
    n.close();
    n.close();
    n.ready('too late');
    n.status('too late');
    n.stopping();
    await n.flush();
    expect(calls()).toEqual([]);
  });
});
