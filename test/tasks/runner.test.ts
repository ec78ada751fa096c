import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULTS } from '../../src/config/options.js';
import { TaskRunner } from '../../src/tasks/runner.js';
import type { TaskFn } from '../../src/tasks/types.js';
import { fakeTimers, recordingLogger } from '../helpers/fake.js';

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-11-22T10:00:00.000Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

function runner(task: TaskFn, timeoutMs = 1000) {
  const rec = recordingLogger();
  return { r: new TaskRunner({ task, name: 't', timeoutMs, log: rec.log, timers: fakeTimers, config: DEFAULTS }), rec };
}

describe('TaskRunner', () => {
  it('records a successful run with its value, duration and ISO time', async () => {
    const { r } = runner(async () => {
      await new Promise((res) => setTimeout(res, 120));
      return { t: 21.5 };
    });
    const p = r.run();
    await vi.advanceTimersByTimeAsync(120);
    expect(await p).toEqual({ ok: true, durationMs: 120, at: '2026-11-22T10:00:00.120Z', value: { t: 21.5 } });
    expect(r.busy).toBe(false);
  });

  it('turns a throwing task (sync or async) into a failed run, logged with its error', async () => {
    for (const task of [
      () => {
        throw new Error('sensor unplugged');
      },
      async () => Promise.reject(new Error('sensor unplugged')),
    ]) {
      const { r, rec } = runner(task);
      const result = await r.run();
      expect(result).toMatchObject({ ok: false, error: { code: 'PINETD_E_TASK_FAILED', message: 'task t failed: sensor unplugged' } });
      const logged = rec.lines.find((l) => l.msg === 'task failed') as unknown as { err: { message: string; code: string } };
      expect(logged.err.code).toBe('PINETD_E_TASK_FAILED');
    }
  });

  it('survives a task that rejects with a value that cannot even be printed', async () => {
    const { r } = runner(async () => Promise.reject(Object.create(null)));
    expect(await r.run()).toMatchObject({ ok: false, error: { code: 'PINETD_E_TASK_FAILED', message: 'task t failed: [object Object]' } });
  });

  it('abandons a task at the timeout, firing its AbortSignal, and stays busy until it settles', async () => {
    let signal: AbortSignal | undefined;
    let release!: () => void;
    const { r } = runner((ctx) => {
      signal = ctx.signal;
      return new Promise<void>((res) => {
        release = res; // ignores its signal
      });
    }, 500);
    const p = r.run();
    await vi.advanceTimersByTimeAsync(500);
    const result = await p;
    expect(result).toMatchObject({ ok: false, durationMs: 500, error: { code: 'PINETD_E_TASK_TIMEOUT' } });
    expect(signal?.aborted).toBe(true);
    expect(r.busy).toBe(true);
    await expect(r.run()).rejects.toThrow(/already in flight/);
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(r.busy).toBe(false);
  });

  it('rejects results that cannot be served (not JSON, or too large)', async () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(await runner(() => circular).r.run()).toMatchObject({ ok: false, error: { message: expect.stringContaining('not JSON-serialisable') } });
    expect(await runner(() => 'x'.repeat(70_000)).r.run()).toMatchObject({ ok: false, error: { message: expect.stringContaining('limit') } });
    expect(await runner(() => undefined).r.run()).toMatchObject({ ok: true, value: null });
  });

  it('abort() fires the signal of the running task', async () => {
    let signal: AbortSignal | undefined;
    const { r } = runner(async (ctx) => {
      signal = ctx.signal;
      await new Promise((res) => ctx.signal.addEventListener('abort', res));
    });
    const p = r.run();
    await vi.advanceTimersByTimeAsync(10);
    r.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(signal?.aborted).toBe(true);
    expect((await p).ok).toBe(true);
  });
});
