/**
 * What one pause does, in order: hold every client and light the task LED (the hub's
 * `pause` listeners, synchronously), run the task, record the result, release the clients,
 * then publish the reading (to subscribers, MQTT, event streams). The cycle (pause-cycle.ts) decides when; this decides what.
 */
import type { Logger } from 'pino';
import type { Hub } from '../hub/hub.js';
import type { TaskResult } from '../tasks/runner.js';
import { realTimers, type Timers } from '../util/timers.js';
import type { PauseSlot } from './pause-cycle.js';

export interface PauseSequenceDeps {
  readonly hub: Hub;
  readonly runner: { readonly name: string; run(): Promise<TaskResult> };
  readonly log: Logger;
  readonly timers?: Timers;
}

export function createPauseSequence({ hub, runner, log, timers = realTimers }: PauseSequenceDeps): (slot: PauseSlot) => Promise<void> {
  return async (slot) => {
    const started = timers.now();
    hub.pauseStarted();
    log.info({ task: runner.name, lateMs: Math.round(slot.lateMs * 100) / 100 }, 'paused');
    let ok = false;
    try {
      // The runner never rejects (timeouts and throws become failed results); the finally
      // is for a bug: whatever happens, clients must not stay held.
      const result = await runner.run();
      ok = result.ok;
      hub.recordTask(result);
    } finally {
      const releasing = timers.now();
      hub.pauseEnded();
      const now = timers.now();
      // releaseMs: every held client let go (reading and answering again), the benchmark's resume time.
      log.info({ durationMs: Math.round(now - started), releaseMs: Math.round((now - releasing) * 1000) / 1000, ok }, 'resumed');
    }
    hub.publish();
  };
}
