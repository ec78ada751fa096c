import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Shutdown, type ShutdownHooks } from '../../src/shutdown/shutdown.js';
import { fakeTimers, recordingLogger } from '../helpers/fake.js';

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

function machine(graceMs: number, initialClients = 1, settleMs = 0) {
  const rec = recordingLogger();
  let clients = initialClients;
  const calls: string[] = [];
  const exits: Array<{ code: number; at: number }> = [];
  const hooks: ShutdownHooks = {
    drain: (signal) => calls.push(`drain ${signal}`),
    tick: (s) => calls.push(`tick ${s}`),
    settle: () => (settleMs > 0 ? new Promise((r) => setTimeout(r, settleMs)) : Promise.resolve()),
    close: async () => {
      calls.push('close');
    },
    forceClose: () => calls.push('forceClose'),
    exit: (code) => exits.push({ code, at: Date.now() }),
  };
  const sd = new Shutdown({ graceMs, log: rec.log, hooks, timers: fakeTimers, clients: () => clients });
  return {
    sd,
    rec,
    calls,
    exits,
    leave: () => {
      clients -= 1;
      sd.clientsChanged();
    },
  };
}

describe('Shutdown', () => {
  it('drains, counts down once a second with remainingS, and exits 0 at the deadline', async () => {
    const { sd, rec, calls, exits } = machine(3000);
    sd.signal('SIGTERM');
    expect(sd.state).toBe('draining');
    expect(calls[0]).toBe('drain SIGTERM');
    await vi.advanceTimersByTimeAsync(2999);
    expect(rec.lines.filter((l) => l.msg === 'shutting down').map((l) => l.remainingS)).toEqual([3, 2, 1]);
    expect(exits).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(exits).toEqual([{ code: 0, at: 3000 }]);
    expect(calls).toContain('close');
    expect(rec.lines.find((l) => l.msg === 'shutdown signal received: draining')).toMatchObject({ signal: 'SIGTERM', graceMs: 3000 });
    expect(rec.msgs().at(-1)).toBe('stopped');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('exits when the clients are gone, before the deadline', async () => {
    const m = machine(5000, 2);
    m.sd.signal('SIGINT');
    await vi.advanceTimersByTimeAsync(1200);
    m.leave();
    await vi.advanceTimersByTimeAsync(0);
    expect(m.exits).toEqual([]);
    m.leave();
    await vi.advanceTimersByTimeAsync(0);
    expect(m.exits).toEqual([{ code: 0, at: 1200 }]);
  });

  it('exits at once with no clients, and with a zero grace period', async () => {
    const none = machine(5000, 0);
    none.sd.signal('SIGHUP');
    await vi.advanceTimersByTimeAsync(0);
    expect(none.exits).toEqual([{ code: 0, at: 0 }]);
    const zero = machine(0, 3);
    zero.sd.signal('SIGQUIT');
    await vi.advanceTimersByTimeAsync(0);
    expect(zero.exits).toEqual([{ code: 0, at: 0 }]);
    expect(zero.calls).toEqual(['drain SIGQUIT', 'close']);
  });

  it('waits for a pause in progress to settle before closing', async () => {
    const m = machine(1000, 0, 800);
    m.sd.signal('SIGTERM');
    await vi.advanceTimersByTimeAsync(799);
    expect(m.calls).not.toContain('close');
    await vi.advanceTimersByTimeAsync(1);
    expect(m.exits).toEqual([{ code: 0, at: 800 }]);
  });

  it('a second signal forces exit 128+n at once, even while settling', async () => {
    for (const [signal, n] of [['SIGHUP', 1], ['SIGINT', 2], ['SIGQUIT', 3], ['SIGTERM', 15]] as const) {
      const m = machine(5000, 1, 10_000);
      const t0 = Date.now();
      m.sd.signal('SIGTERM');
      await vi.advanceTimersByTimeAsync(500);
      m.sd.signal(signal);
      expect(m.exits).toEqual([{ code: 128 + n, at: t0 + 500 }]);
      expect(m.calls).toContain('forceClose');
      await vi.advanceTimersByTimeAsync(20_000);
      expect(m.exits).toHaveLength(1);
    }
  });

  it('install() listens for the four signals and uninstall() removes the listeners', () => {
    const m = machine(1000);
    const target = new EventEmitter();
    m.sd.install(target);
    for (const s of ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGQUIT']) expect(target.listenerCount(s)).toBe(1);
    target.emit('SIGQUIT');
    expect(m.calls[0]).toBe('drain SIGQUIT');
    m.sd.uninstall(target);
    expect(target.listenerCount('SIGQUIT')).toBe(0);
  });
});
