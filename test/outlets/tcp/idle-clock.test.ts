import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IdleClock } from '../../../src/outlets/tcp/idle-clock.js';
import { ServingClock } from '../../../src/outlets/tcp/serving-clock.js';
import { fakeTimers } from '../../helpers/fake.js';

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

function clock(timeoutMs = 1000, exempt = () => false) {
  const idle: number[] = [];
  const serving = new ServingClock(fakeTimers);
  const c = new IdleClock(timeoutMs, serving, {
    onIdle: (ms) => void idle.push(ms),
    get idleExempt() {
      return exempt();
    },
  });
  return { c, idle, serving };
}

describe('IdleClock (the idle timeout)', () => {
  it('fires the timeout after the last read, however many reads came before', () => {
    const { c, idle } = clock();
    c.start();
    for (let t = 100; t <= 900; t += 100) {
      vi.advanceTimersByTime(100);
      c.touch(t);
    }
    expect(vi.getTimerCount()).toBe(1); // a read only stamps a time
    vi.advanceTimersByTime(999);
    expect(idle).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(idle).toEqual([1000]);
  });

  it('does not count time held by a pause, and a short pause leaves its timer alone', () => {
    const { c, idle, serving } = clock();
    c.start();
    vi.advanceTimersByTime(600);
    serving.hold();
    vi.advanceTimersByTime(300);
    expect(vi.getTimerCount()).toBe(1); // still armed for 1000: neither hold nor release touch it
    serving.release();
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(399); // at 1299: 1000 of silence minus the 300 held would be 1300
    expect(idle).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(idle).toEqual([1000]);
  });

  it('a pause longer than the timeout: it fires once while held, decides nothing, and the remainder runs after', () => {
    const { c, idle, serving } = clock();
    c.start();
    vi.advanceTimersByTime(600);
    serving.hold();
    vi.advanceTimersByTime(5000);
    expect(idle).toEqual([]);
    expect(vi.getTimerCount()).toBe(0); // not re-armed again and again through the pause
    serving.release();
    vi.advanceTimersByTime(399);
    expect(idle).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(idle).toEqual([1000]);
  });

  it('a timeout that falls due during a pause fires for exactly what was left when it ends', () => {
    const { c, idle, serving } = clock();
    c.start();
    vi.advanceTimersByTime(900);
    serving.hold();
    vi.advanceTimersByTime(200); // the timer's time (1000) passes while held
    serving.release(); // at 1100: 100 ms of silence were left
    vi.advanceTimersByTime(99);
    expect(idle).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(idle).toEqual([1000]);
  });

  it('a read during a pause counts as activity from the release on', () => {
    const { c, idle, serving } = clock();
    c.start();
    vi.advanceTimersByTime(900);
    serving.hold();
    vi.advanceTimersByTime(500);
    c.touch(serving.now());
    serving.release(); // at 1400: the read restarted the silence
    vi.advanceTimersByTime(999);
    expect(idle).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(idle).toEqual([1000]);
  });

  it('a connection accepted during a pause gets its full time after it', () => {
    const { c, idle, serving } = clock();
    serving.hold();
    c.start();
    vi.advanceTimersByTime(3000);
    serving.release();
    vi.advanceTimersByTime(999);
    expect(idle).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(idle).toEqual([1000]);
  });

  it('a clock closed during a pause is not rechecked at its end', () => {
    const { c, idle, serving } = clock();
    c.start();
    serving.hold();
    vi.advanceTimersByTime(2000);
    c.close();
    serving.release();
    vi.advanceTimersByTime(5000);
    expect(idle).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never fires for an exempt connection (a subscriber) while it stays exempt', () => {
    let subscribed = true;
    const { c, idle } = clock(1000, () => subscribed);
    c.start();
    vi.advanceTimersByTime(10_000);
    expect(idle).toEqual([]);
    subscribed = false;
    vi.advanceTimersByTime(2000);
    expect(idle).toHaveLength(1);
  });

  it('0 disables it; close() cancels it', () => {
    const off = clock(0);
    off.c.start();
    expect(vi.getTimerCount()).toBe(0);
    const { c, idle } = clock();
    c.start();
    c.close();
    vi.advanceTimersByTime(5000);
    expect(idle).toEqual([]);
  });
});
