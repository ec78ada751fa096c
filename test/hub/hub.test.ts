import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Hub, type HubEvents } from '../../src/hub/hub.js';
import type { TaskResult } from '../../src/tasks/runner.js';
import { fakeTimers, recordingLogger } from '../helpers/fake.js';

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

const INFO = { deviceId: 'shelf-pi', task: 'board', protocol: 'lines', gpio: 'mock', version: '9.9.9', pid: 42, node: 'v20.0.0', arch: 'arm64' };
const ok = (at: string, value: unknown): TaskResult => ({ ok: true, durationMs: 12, at, value });
const failed = (at: string): TaskResult => ({ ok: false, durationMs: 3, at, error: { code: 'PINETD_E_TASK_FAILED', message: 'boom' } });

function hub(historySize = 720) {
  const rec = recordingLogger();
  const h = new Hub({ info: INFO, log: rec.log, historySize, timers: fakeTimers });
  const events: string[] = [];
  const names: Array<keyof HubEvents> = ['ready', 'state', 'pause', 'task', 'reading', 'clients', 'countdown'];
  for (const name of names) h.on(name, (p) => events.push(`${name}:${typeof p === 'object' && p !== null ? 'obj' : String(p)}`));
  return { h, events, rec };
}

describe('Hub', () => {
  it('goes serving -> paused -> serving around a pause, and publishes the reading after the release', () => {
    const { h, events } = hub();
    expect(h.state).toBe('serving');
    h.pauseStarted();
    expect(h.state).toBe('paused');
    h.recordTask(ok('2026-01-01T00:00:01.000Z', { t: 21.5 }));
    // recorded but not yet visible: READ during a pause would be held anyway
    expect(h.readJson()).toBeUndefined();
    h.pauseEnded();
    expect(h.readJson()).toBe('{"at":"2026-01-01T00:00:01.000Z","ok":true,"durationMs":12,"value":{"t":21.5}}');
    h.publish();
    expect(events).toEqual(['pause:true', 'state:paused', 'task:obj', 'pause:false', 'state:serving', 'reading:obj']);
    expect(h.historyJson()).toBe('[{"at":"2026-01-01T00:00:01.000Z","durationMs":12,"value":{"t":21.5}}]');
  });

  it('a failed task counts as a failure, keeps the last good reading and publishes nothing', () => {
    const { h, events } = hub();
    h.pauseStarted();
    h.recordTask(ok('2026-01-01T00:00:01.000Z', 1));
    h.pauseEnded();
    h.publish();
    events.length = 0;
    h.pauseStarted();
    h.recordTask(failed('2026-01-01T00:00:02.000Z'));
    h.pauseEnded();
    h.publish();
    expect(events).not.toContain('reading:obj');
    expect(JSON.parse(h.readJson()!)).toMatchObject({ value: 1 });
    expect(h.status()).toMatchObject({ pauses: 2, taskFailures: 1, history: 1, lastTask: { ok: false, error: { code: 'PINETD_E_TASK_FAILED' } } });
  });

  it('STATUS shows counters, history, outlet sections and the device info', () => {
    const { h } = hub();
    h.addSection('leds', () => ({ ready: 'on' }));
    h.countRequests(5);
    h.countRequests(2);
    h.pauseSkipped(3);
    h.setClients(4);
    vi.advanceTimersByTime(1500);
    expect(h.status()).toEqual({
      state: 'serving', uptimeMs: 1500, clients: 4, requests: 7, pauses: 0, skippedPauses: 3, taskFailures: 0, lastTask: null,
      history: 0, historyDropped: 0, remainingS: 0, deviceId: 'shelf-pi', task: 'board', protocol: 'lines', gpio: 'mock', leds: { ready: 'on' },
      version: '9.9.9', pid: 42, node: 'v20.0.0', arch: 'arm64',
    });
  });

  it('draining wins over paused, counts down live, and a pause ending while draining still releases', () => {
    const { h, events } = hub();
    h.pauseStarted();
    h.beginDrain(5000);
    expect(h.state).toBe('draining');
    vi.advanceTimersByTime(1200);
    expect(h.remainingS).toBe(4);
    h.countdown(4);
    h.pauseEnded();
    expect(h.state).toBe('draining');
    // the release still goes out (pause:false) although the state does not change
    expect(events).toEqual(['pause:true', 'state:paused', 'state:draining', 'countdown:4', 'pause:false']);
    h.beginDrain(5000); // idempotent
    expect(events.filter((e) => e === 'state:draining')).toHaveLength(1);
  });

  it('emits clients only on a change', () => {
    const { h, events } = hub();
    h.setClients(1);
    h.setClients(1);
    h.setClients(0);
    expect(events).toEqual(['clients:1', 'clients:0']);
  });

  it('a listener that throws is logged and does not stop the others', () => {
    const { h, rec } = hub();
    const seen: boolean[] = [];
    h.on('pause', () => {
      throw new Error('LED on fire');
    });
    h.on('pause', (p) => seen.push(p));
    h.pauseStarted();
    expect(seen).toEqual([true]);
    expect(rec.lines.find((l) => l.msg === 'hub listener failed')).toMatchObject({ event: 'pause' });
  });

  it('unsubscribes', () => {
    const { h } = hub();
    const seen: number[] = [];
    const off = h.on('clients', (n) => seen.push(n));
    h.setClients(1);
    off();
    h.setClients(2);
    expect(seen).toEqual([1]);
  });

  it('HISTORY payloads: the last n, oldest first; empty with history 0', () => {
    const { h } = hub(2);
    for (let i = 1; i <= 3; i++) {
      h.pauseStarted();
      h.recordTask(ok(`2026-01-01T00:00:0${i}.000Z`, i));
      h.pauseEnded();
      h.publish();
    }
    expect((JSON.parse(h.historyJson()) as Array<{ value: number }>).map((r) => r.value)).toEqual([2, 3]);
    expect((JSON.parse(h.historyJson(1)) as Array<{ value: number }>).map((r) => r.value)).toEqual([3]);
    const none = hub(0).h;
    none.pauseStarted();
    none.recordTask(ok('2026-01-01T00:00:01.000Z', 1));
    none.pauseEnded();
    expect(none.historyJson()).toBe('[]');
    expect(none.readJson()).toContain('"value":1');
  });
});
