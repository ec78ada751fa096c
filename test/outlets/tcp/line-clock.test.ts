import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LineClock } from '../../../src/outlets/tcp/line-clock.js';
import { ServingClock } from '../../../src/outlets/tcp/serving-clock.js';
import { fakeTimers } from '../../helpers/fake.js';

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

function clock(timeoutMs = 1000) {
  const expired: number[] = [];
  const serving = new ServingClock(fakeTimers);
  return { c: new LineClock(timeoutMs, serving, { onLineTimeout: (ms) => void expired.push(ms) }), expired, serving };
}

describe('LineClock (the slow-loris guard)', () => {
  it('expires a line left unterminated for the timeout after its first byte', () => {
    const { c, expired } = clock();
    c.track(3, 0);
    vi.advanceTimersByTime(999);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual([1000]);
  });

  it('does not restart for later bytes of the same line (a trickle cannot keep it alive)', () => {
    const { c, expired } = clock();
    c.track(1, 0);
    vi.advanceTimersByTime(600);
    c.track(2, 600);
    vi.advanceTimersByTime(400);
    expect(expired).toEqual([1000]);
  });

  it('a completed line stops it; the next partial line gets its own full time', () => {
    const { c, expired } = clock();
    c.track(1, 0);
    vi.advanceTimersByTime(800);
    c.lineTaken();
    c.track(0, 800);
    c.track(4, 900);
    vi.advanceTimersByTime(1099);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual([1000]);
  });

  it('time waiting for drain does not count', () => {
    const { c, expired } = clock();
    c.track(1, 0);
    vi.advanceTimersByTime(500);
    c.reading(false);
    vi.advanceTimersByTime(5000);
    expect(expired).toEqual([]);
    c.reading(true);
    vi.advanceTimersByTime(499);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual([1000]);
  });

  it('time held by a pause does not count, and is not subtracted twice when it overlaps a wait for drain', () => {
    const { c, expired, serving } = clock();
    c.track(1, 0);
    vi.advanceTimersByTime(300);
    serving.hold();
    vi.advanceTimersByTime(2000); // fires once while held; decides at the release
    c.reading(false); // a drain wait that starts inside the pause ...
    serving.release();
    vi.advanceTimersByTime(200);
    c.reading(true); // ... and ends after it: 200 ms of serving time not read
    // 300 ms read before the pause; 700 left.
    vi.advanceTimersByTime(699);
    expect(expired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(expired).toEqual([1000]);
  });

  it('0 disables it; close() cancels it', () => {
    const off = clock(0);
    off.c.track(10, 0);
    vi.advanceTimersByTime(60_000);
    expect(off.expired).toEqual([]);
    const { c, expired } = clock();
    c.track(1, 0);
    c.close();
    vi.advanceTimersByTime(5000);
    expect(expired).toEqual([]);
  });
});
