import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ServingClock } from '../../../src/outlets/tcp/serving-clock.js';
import { fakeTimers } from '../../helpers/fake.js';

beforeEach(() => {
  vi.useFakeTimers({ now: 1000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('ServingClock (time that stands still during a pause)', () => {
  it('runs with real time, stands still while held, and goes on from there', () => {
    const clock = new ServingClock(fakeTimers);
    const t0 = clock.now();
    vi.advanceTimersByTime(100);
    expect(clock.now() - t0).toBe(100);
    clock.hold();
    expect(clock.held).toBe(true);
    vi.advanceTimersByTime(500);
    expect(clock.now() - t0).toBe(100);
    clock.hold(); // idempotent: the hold began at 100
    clock.release();
    expect(clock.held).toBe(false);
    vi.advanceTimersByTime(50);
    expect(clock.now() - t0).toBe(150);
    clock.release(); // idempotent
    expect(clock.now() - t0).toBe(150);
    expect(clock.at(fakeTimers.now() + 10) - t0).toBe(160);
  });

  it('rechecks, at the release, exactly the clocks that asked while held and were not forgotten', () => {
    const clock = new ServingClock(fakeTimers);
    const seen: string[] = [];
    const a = { recheck: () => seen.push(`a held=${clock.held}`) };
    const b = { recheck: () => seen.push('b') };
    clock.hold();
    clock.recheckAtRelease(a);
    clock.recheckAtRelease(a);
    clock.recheckAtRelease(b);
    clock.forget(b);
    expect(seen).toEqual([]);
    clock.release();
    expect(seen).toEqual(['a held=false']);
    clock.hold();
    clock.release();
    expect(seen).toEqual(['a held=false']); // asked once, rechecked once
  });
});
