/**
 * A log line that may repeat (a port scan hitting the allow-list, a client retrying a wrong
 * token) must not flood the journal: at most `burst` lines per `windowMs`, then one line
 * saying how many were suppressed when the window ends.
 */
import type { Logger } from 'pino';
import { realTimers, type Timers } from '../util/timers.js';

export interface RateLimitedLog {
  (fields: Record<string, unknown>, msg: string): void;
}

export function rateLimited(log: Pick<Logger, 'warn' | 'info'>, level: 'warn' | 'info', { burst = 5, windowMs = 10_000, timers = realTimers }: { burst?: number; windowMs?: number; timers?: Timers } = {}): RateLimitedLog {
  let windowStart = -Infinity;
  let count = 0;
  let suppressed = 0;
  let lastMsg = '';
  return (fields, msg) => {
    const now = timers.now();
    if (now - windowStart >= windowMs) {
      if (suppressed > 0) log[level]({ suppressed, windowMs }, `${lastMsg} (similar lines suppressed)`);
      windowStart = now;
      count = 0;
      suppressed = 0;
    }
    lastMsg = msg;
    if (count < burst) {
      count += 1;
      log[level](fields, msg);
    } else suppressed += 1;
  };
}
