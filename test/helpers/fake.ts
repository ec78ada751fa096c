/** Fake-timer Timers and a silent logger that records what was logged. */
import pino, { type Logger } from 'pino';
import { Writable } from 'node:stream';
import type { Timers } from '../../src/util/timers.js';

/** Timers over vitest's fake clock (call vi.useFakeTimers() first). */
export const fakeTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms, ...args) => setTimeout(fn, ms, ...args),
  clearTimeout: (h) => clearTimeout(h),
};

export interface Recorded {
  log: Logger;
  lines: Array<Record<string, unknown> & { msg: string }>;
  msgs: () => string[];
}

export function recordingLogger(level = 'debug'): Recorded {
  const lines: Recorded['lines'] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Recorded['lines'][number]);
      cb();
    },
  });
  // Sync-ish: pino writes straight to the stream.
  const log = pino({ level }, sink);
  return { log, lines, msgs: () => lines.map((l) => l.msg) };
}
