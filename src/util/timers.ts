/**
 * Injectable time. Schedules (pause cycle, countdown, task timeout) take a Timers so tests
 * drive them with fake timers; production uses the monotonic clock, never wall time, so an
 * NTP step on a board that booted without an RTC cannot bunch or skip pauses.
 */
export type TimerHandle = ReturnType<typeof setTimeout>;

/*
 * Initial values for fields that will hold clock readings, so that they are doubles from the
 * start. V8 lays a field out by its first value: a small integer (-1, 0) makes it an integer
 * field, and the first reading stored there later changes the layout of every instance at
 * once, each migrated on its next access (--trace-generalization: every connection's line
 * clock, the first time one of them waited or was held).
 */
/** "No time": below 0 in every comparison, like the -1 it stands for. */
export const NO_TIME = -Infinity;
/** A double zero for sums of milliseconds (equal to 0 in every comparison). */
export const ZERO_MS = -0;

export interface Timers {
  now(): number;
  /**
   * fn(...args) after ms. With an arg, one shared function serves many owners, where a closure
   * each would cost every connection's clocks 56 bytes of heap apiece (heap snapshot).
   */
  setTimeout<A extends unknown[]>(fn: (...args: A) => void, ms: number, ...args: A): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

// Globals are looked up at call time so vi.useFakeTimers() installed later still applies.
export const realTimers: Timers = {
  // process.hrtime, not performance.now(): the same monotonic clock at the same cost per call,
  // without loading perf_hooks at start-up (~2 ms on Node 20).
  now: () => {
    const [s, ns] = process.hrtime();
    return s * 1e3 + ns / 1e6;
  },
  setTimeout: (fn, ms, ...args) => setTimeout(fn, ms, ...args),
  clearTimeout: (handle) => clearTimeout(handle),
};
