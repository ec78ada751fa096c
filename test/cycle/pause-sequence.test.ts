import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createPauseSequence } from '../../src/cycle/pause-sequence.js';
import { Hub } from '../../src/hub/hub.js';
import type { TaskResult } from '../../src/tasks/runner.js';
import { fakeTimers, recordingLogger } from '../helpers/fake.js';

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

const INFO = { deviceId: 'shelf-pi', task: 'fake', protocol: 'lines', gpio: 'mock', version: '0', pid: 1, node: 'v20', arch: 'x64' };

/** A hub whose outlets are fakes that record what they were told, in order. */
function setup(run: () => Promise<TaskResult>) {
  const rec = recordingLogger();
  const hub = new Hub({ info: INFO, log: rec.log, historySize: 10, timers: fakeTimers });
  const steps: string[] = [];
  hub.on('pause', (p) => steps.push(p ? 'hold clients' : 'release clients'));
  hub.on('pause', (p) => steps.push(p ? 'task LED on' : 'task LED off'));
  hub.on('task', (r) => steps.push(`record ${r.ok ? 'ok' : 'failed'}`));
  hub.on('reading', () => steps.push('publish'));
  const runner = {
    name: 'fake',
    run: async () => {
      steps.push('run task');
      return run();
    },
  };
  const pause = createPauseSequence({ hub, runner, log: rec.log, timers: fakeTimers });
  return { hub, steps, rec, pause };
}

describe('the pause sequence', () => {
  it('holds, lights the task LED, runs, records, releases, then publishes', async () => {
    const { pause, steps, rec, hub } = setup(async () => {
      await new Promise((r) => setTimeout(r, 250));
      return { ok: true, durationMs: 250, at: '2026-01-01T00:00:00.250Z', value: 7 };
    });
    const done = pause({ scheduledAt: 0, lateMs: 1.234 });
    expect(steps).toEqual(['hold clients', 'task LED on', 'run task']);
    expect(hub.state).toBe('paused');
    await vi.advanceTimersByTimeAsync(250);
    await done;
    expect(steps).toEqual(['hold clients', 'task LED on', 'run task', 'record ok', 'release clients', 'task LED off', 'publish']);
    expect(rec.lines.find((l) => l.msg === 'paused')).toMatchObject({ task: 'fake', lateMs: 1.23 });
    expect(rec.lines.find((l) => l.msg === 'resumed')).toMatchObject({ durationMs: 250, ok: true });
    expect(JSON.parse(hub.readJson()!)).toMatchObject({ value: 7 });
  });

  it('a failed task is recorded, clients are released, nothing is published', async () => {
    const { pause, steps, hub } = setup(async () => ({ ok: false, durationMs: 1, at: '2026-01-01T00:00:00.001Z', error: { code: 'X', message: 'no' } }));
    await pause({ scheduledAt: 0, lateMs: 0 });
    expect(steps).toEqual(['hold clients', 'task LED on', 'run task', 'record failed', 'release clients', 'task LED off']);
    expect(hub.state).toBe('serving');
    expect(hub.readJson()).toBeUndefined();
  });

  it('releases the clients even if the runner itself breaks', async () => {
    const { pause, steps, hub } = setup(() => Promise.reject(new Error('runner bug')));
    await expect(pause({ scheduledAt: 0, lateMs: 0 })).rejects.toThrow('runner bug');
    expect(steps.at(-2)).toBe('release clients');
    expect(hub.state).toBe('serving');
  });
});
