import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PauseCycle, type PauseSlot } from '../../src/cycle/pause-cycle.js';
import type { TimerHandle, Timers } from '../../src/util/timers.js';
import { fakeTimers, recordingLogger } from '../helpers/fake.js';

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

/** A cycle whose pause lasts `durations[i]` ms for the i-th pause; records start/end times. */
function cycleWith(periodMs: number, durations: number[] | number, busy = () => false) {
  const rec = recordingLogger();
  const starts: number[] = [];
  const ends: number[] = [];
  const late: number[] = [];
  const skips: number[] = [];
  let running = 0;
  let maxRunning = 0;
  const cycle = new PauseCycle({
    periodMs,
    log: rec.log,
    timers: fakeTimers,
    busy,
    onSkip: (n) => skips.push(n),
    pause: async (slot) => {
      late.push(slot.lateMs);
      const i = starts.length;
      starts.push(Date.now());
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      const d = Array.isArray(durations) ? (durations[i] ?? 0) : durations;
      await new Promise((r) => setTimeout(r, d));
      running -= 1;
      ends.push(Date.now());
    },
  });
  return { cycle, starts, ends, late, rec, maxRunning: () => maxRunning, skipped: () => skips.reduce((a, b) => a + b, 0) };
}

describe('PauseCycle', () => {
  it('starts the n-th pause at start + n·period, one period after start', async () => {
    const { cycle, starts, late, skipped } = cycleWith(1000, 100);
    cycle.start();
    await vi.advanceTimersByTimeAsync(999);
    expect(starts).toEqual([]);
    await vi.advanceTimersByTimeAsync(4001);
    expect(starts).toEqual([1000, 2000, 3000, 4000, 5000]);
    expect(late).toEqual([0, 0, 0, 0, 0]);
    expect(skipped()).toBe(0);
  });

  it('accumulates no drift when pauses take time', async () => {
    const { cycle, starts } = cycleWith(1000, 337);
    cycle.start();
    await vi.advanceTimersByTimeAsync(100_500);
    expect(starts).toHaveLength(100);
    expect(starts.at(-1)).toBe(100_000);
    expect(starts.every((t, i) => t === (i + 1) * 1000)).toBe(true);
  });

  it('skips the slots a long pause overran instead of bunching them', async () => {
    const { cycle, starts, rec, skipped } = cycleWith(1000, [2500, 10, 10]);
    cycle.start();
    await vi.advanceTimersByTimeAsync(6000);
    // pause 1 runs 1000..3500: slots 2 and 3 are gone, the next is slot 4.
    expect(starts).toEqual([1000, 4000, 5000, 6000]);
    expect(skipped()).toBe(2);
    expect(rec.msgs()).toContain('pause cycle running late: skipping missed periods');
  });

  it('never overlaps two pauses', async () => {
    const { cycle, maxRunning } = cycleWith(100, [350, 90, 500, 20]);
    cycle.start();
    await vi.advanceTimersByTimeAsync(3000);
    expect(maxRunning()).toBe(1);
  });

  it('skips (and logs) a period while the previous task has not settled, without counting it', async () => {
    let busy = true;
    const { cycle, starts, rec, skipped } = cycleWith(1000, 10, () => busy);
    cycle.start();
    await vi.advanceTimersByTimeAsync(2500);
    expect(starts).toEqual([]);
    expect(skipped()).toBe(2);
    expect(rec.msgs().filter((m) => m === 'previous task still running: skipping this pause')).toHaveLength(2);
    busy = false;
    await vi.advanceTimersByTimeAsync(1000);
    expect(starts).toEqual([3000]);
    expect(skipped()).toBe(2);
  });

  it('does nothing with period 0', async () => {
    const { cycle, starts } = cycleWith(0, 10);
    cycle.start();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(starts).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stop() cancels future pauses and waits for the one in progress', async () => {
    const { cycle, starts, ends } = cycleWith(1000, 400);
    cycle.start();
    await vi.advanceTimersByTimeAsync(1100);
    expect(cycle.active).toBe(true);
    let stopped = false;
    void cycle.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(200);
    expect(stopped).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    expect(stopped).toBe(true);
    expect(ends).toEqual([1400]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(starts).toEqual([1000]);
    expect(vi.getTimerCount()).toBe(0);
    await cycle.stop(); // idempotent
  });
});

describe('PauseCycle.checkDue (a read under load starts a due pause before its timer)', () => {
  /** Timers whose clock the test sets and whose timeouts fire only when the test says: a busy loop. */
  function stalledLoop() {
    let now = 0;
    const pending = new Map<TimerHandle, { fn: () => void; at: number }>();
    const timers: Timers = {
      now: () => now,
      setTimeout: (fn, ms, ...args) => {
        // A real (fake-clock) handle as the key, cancelled at once: only the test fires these.
        const handle = setTimeout(() => {}, 0);
        clearTimeout(handle);
        pending.set(handle, { fn: () => fn(...args), at: now + ms });
        return handle;
      },
      clearTimeout: (h) => void (h !== undefined && pending.delete(h)),
    };
    return { timers, set: (t: number) => void (now = t), pending };
  }

  it('starts the pause at the first read after its due time, with that lateness, and only once', async () => {
    const loop = stalledLoop();
    const slots: PauseSlot[] = [];
    let finish = (): void => {};
    const cycle = new PauseCycle({
      periodMs: 1000,
      log: recordingLogger().log,
      timers: loop.timers,
      busy: () => false,
      pause: (slot) => {
        slots.push(slot);
        return new Promise<void>((r) => (finish = r));
      },
    });
    cycle.start();
    expect([...loop.pending.values()].map((p) => p.at)).toEqual([1000]);
    loop.set(999.5);
    cycle.checkDue(999.5);
    expect(slots).toEqual([]);
    loop.set(1000.25);
    cycle.checkDue(1000.25);
    expect(slots).toEqual([{ scheduledAt: 1000, lateMs: 0.25 }]);
    // Its timer is gone, and reads during the pause start nothing.
    expect(loop.pending.size).toBe(0);
    cycle.checkDue(1500);
    expect(slots).toHaveLength(1);
    loop.set(1200);
    finish();
    await Promise.resolve();
    await Promise.resolve();
    // The next slot is armed as usual, and its timer alone starts it when nothing is read.
    expect([...loop.pending.values()].map((p) => p.at)).toEqual([2000]);
    loop.set(2000);
    [...loop.pending.values()][0]!.fn();
    expect(slots.map((s) => s.scheduledAt)).toEqual([1000, 2000]);
    expect(slots[1]!.lateMs).toBe(0);
    finish();
    await cycle.stop();
  });
});
