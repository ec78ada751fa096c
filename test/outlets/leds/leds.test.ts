/**
 * Status LEDs on the mock backend's recorded write history, with fake timers: the history's
 * timestamps are what an observer of the board would see.
 */
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PinetdError } from '../../../src/errors.js';
import { createMockBackend } from '../../../src/gpio/mock.js';
import { createLeds } from '../../../src/outlets/leds/leds.js';

const READY = 17;
const ACTIVITY = 27;
const TASK = 22;
const ERROR = 5;
const config = { ready: READY, activity: ACTIVITY, task: TASK, error: { pin: ERROR, activeLow: true } };

function setup(cfg: Record<string, unknown> = config, pulseMs?: number) {
  const logs: { level: number; msg: string; led?: string }[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void logs.push(JSON.parse(s)) });
  const mock = createMockBackend({ now: () => Date.now() });
  const leds = createLeds({ backend: mock, config: cfg, log, ...(pulseMs !== undefined && { pulseMs }) });
  /** History as [ms since start, value]. */
  const seen = (pin: number) => mock.history(pin).map((w) => [w.t - T0, w.value]);
  return { mock, leds, logs, seen };
}

const T0 = 1_000_000;
beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('LEDs', () => {
  it('opens every configured LED as a dark output at creation, honouring activeLow', () => {
    const { mock, leds } = setup();
    expect(mock.openPins().sort((a, b) => a - b)).toEqual([ERROR, READY, TASK, ACTIVITY]);
    expect(mock.info(ERROR)).toEqual({ direction: 'out', activeLow: true, open: true });
    expect(leds.snapshot()).toEqual({ ready: 'off', activity: 'off', task: 'off', error: 'off' });
  });

  it('ready is on while serving', () => {
    const { leds, seen } = setup();
    leds.serving();
    leds.serving();
    expect(seen(READY)).toEqual([[0, 1]]);
    expect(leds.snapshot().ready).toBe('on');
  });

  it('the task LED is on exactly for the pause', () => {
    const { leds, seen } = setup();
    vi.advanceTimersByTime(1000);
    leds.taskStart();
    vi.advanceTimersByTime(735);
    expect(leds.snapshot().task).toBe('on');
    leds.taskEnd(true);
    expect(seen(TASK)).toEqual([
      [1000, 1],
      [1735, 0],
    ]);
    expect(leds.snapshot().task).toBe('off');
  });

  it('error goes on after a failed task and off after the next successful one', () => {
    const { leds, seen } = setup();
    leds.taskStart();
    vi.advanceTimersByTime(100);
    leds.taskEnd(false);
    expect(leds.snapshot().error).toBe('on');
    vi.advanceTimersByTime(900);
    leds.taskStart();
    vi.advanceTimersByTime(100);
    leds.taskEnd(false);
    vi.advanceTimersByTime(900);
    leds.taskStart();
    vi.advanceTimersByTime(100);
    leds.taskEnd(true);
    expect(seen(ERROR)).toEqual([
      [100, 1],
      [2100, 0],
    ]);
    expect(leds.snapshot().error).toBe('off');
  });

  it('a GPIO fault lights the error LED until the next successful task', () => {
    const { leds, seen } = setup();
    leds.fault();
    expect(leds.snapshot().error).toBe('on');
    leds.taskStart();
    vi.advanceTimersByTime(100);
    leds.taskEnd(true);
    expect(seen(ERROR)).toEqual([
      [0, 1],
      [100, 0],
    ]);
  });

  it('a failing write to another LED counts as a GPIO fault on the error LED', async () => {
    const { mock, leds } = setup();
    mock.failWrites(READY);
    leds.serving();
    await vi.advanceTimersByTimeAsync(0);
    expect(mock.value(ERROR)).toBe(1);
  });

  it('ready blinks at 2 Hz while draining (toggle every 250 ms) and stops when serving again', () => {
    const { leds, seen } = setup();
    leds.serving();
    vi.advanceTimersByTime(1000);
    leds.draining();
    vi.advanceTimersByTime(100);
    leds.draining(); // repeated countdown ticks must not restart the cadence
    expect(leds.snapshot().ready).toBe('blinking');
    vi.advanceTimersByTime(900);
    expect(seen(READY)).toEqual([
      [0, 1],
      [1000, 0],
      [1250, 1],
      [1500, 0],
      [1750, 1],
      [2000, 0],
    ]);
    leds.serving();
    vi.advanceTimersByTime(1000);
    expect(seen(READY).slice(6)).toEqual([[2000, 1]]);
    expect(leds.snapshot().ready).toBe('on');
  });

  it('activity: one request is one visible pulse', () => {
    const { leds, seen } = setup();
    leds.activity();
    expect(leds.snapshot().activity).toBe('on');
    vi.advanceTimersByTime(1000);
    expect(seen(ACTIVITY)).toEqual([
      [0, 1],
      [50, 0],
    ]);
  });

  it('activity under a flood: bounded writes, every pulse visible, ends dark', () => {
    const { leds, seen } = setup();
    for (let ms = 0; ms < 1000; ms++) {
      for (let i = 0; i < 20; i++) leds.activity(); // 20,000 requests per second
      vi.advanceTimersByTime(1);
    }
    vi.advanceTimersByTime(1000);
    const history = seen(ACTIVITY);
    // 50 ms on, 50 ms off: 10 pulses in the flood second, plus one trailing pulse for the
    // requests that arrived in the last gap; 22 writes, not 20,000.
    expect(history).toHaveLength(22);
    history.forEach(([t, v], i) => expect([t, v]).toEqual([i * 50, i % 2 === 0 ? 1 : 0]));
    expect(leds.snapshot().activity).toBe('off');
  });

  it('activity during the gap after a pulse is shown once the gap ends, not dropped', () => {
    const { leds, seen } = setup();
    leds.activity();
    vi.advanceTimersByTime(60);
    leds.activity();
    vi.advanceTimersByTime(1000);
    expect(seen(ACTIVITY)).toEqual([
      [0, 1],
      [50, 0],
      [100, 1],
      [150, 0],
    ]);
  });

  it('the pulse is never shorter than 30 ms', () => {
    const { leds, seen } = setup(config, 5);
    leds.activity();
    vi.advanceTimersByTime(1000);
    expect(seen(ACTIVITY)).toEqual([
      [0, 1],
      [30, 0],
    ]);
  });

  it('a failing LED write is logged once per LED and never throws', async () => {
    const { mock, leds, logs } = setup();
    mock.failWrites(READY);
    mock.failWrites(ERROR);
    expect(() => {
      leds.serving();
      leds.draining();
      leds.fault();
    }).not.toThrow();
    await vi.advanceTimersByTimeAsync(5000); // 20 failing blink writes
    leds.taskEnd(true);
    leds.taskEnd(false);
    await vi.advanceTimersByTimeAsync(0);
    const warnings = logs.filter((l) => l.level === 40);
    expect(warnings.map((w) => w.led).sort()).toEqual(['error', 'ready']);
    expect(warnings[0]?.msg).toMatch(/write failed; further failures of this LED are not logged/);
    leds.taskStart();
    expect(mock.value(TASK)).toBe(1);
  });

  it('close(): everything off and released, timers cleared, later events ignored, idempotent', () => {
    const { mock, leds } = setup();
    leds.serving();
    leds.draining();
    leds.activity();
    leds.taskStart();
    leds.fault();
    vi.advanceTimersByTime(260);
    leds.close();
    leds.close();
    expect(mock.openPins()).toEqual([]);
    for (const pin of [READY, ACTIVITY, TASK, ERROR]) expect(mock.value(pin)).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    const writes = [READY, ACTIVITY, TASK, ERROR].map((p) => mock.history(p).length);
    leds.serving();
    leds.activity();
    leds.taskEnd(false);
    vi.advanceTimersByTime(1000);
    expect([READY, ACTIVITY, TASK, ERROR].map((p) => mock.history(p).length)).toEqual(writes);
    expect(leds.snapshot()).toEqual({ ready: 'off', activity: 'off', task: 'off', error: 'off' });
  });

  it('absent roles are simply not driven', () => {
    const { mock, leds } = setup({ task: TASK });
    leds.serving();
    leds.draining();
    leds.activity();
    leds.fault();
    expect(vi.getTimerCount()).toBe(0);
    expect(leds.snapshot()).toEqual({ task: 'off' });
    expect(mock.openPins()).toEqual([TASK]);
  });

  it('a bad config or an LED that cannot be opened fails creation, releasing the LEDs already opened', () => {
    expect(() => setup({ power: 17 })).toThrow(expect.objectContaining({ code: 'PINETD_E_CONFIG' }));
    const mock = createMockBackend();
    const denied = new PinetdError('PINETD_E_GPIO_PERMISSION', 'no permission');
    mock.failOpen(TASK, denied);
    expect(() => createLeds({ backend: mock, config, log: pino({ level: 'silent' }) })).toThrow(denied);
    expect(mock.openPins()).toEqual([]);
  });
});
