import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { rateLimited } from '../../src/log/rate-limit.js';
import { fakeTimers, recordingLogger } from '../helpers/fake.js';

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('rate-limited log lines', () => {
  it('logs a burst, suppresses the rest, and says how many when the window ends', () => {
    const rec = recordingLogger('info');
    const say = rateLimited(rec.log, 'warn', { burst: 3, windowMs: 1000, timers: fakeTimers });
    for (let i = 0; i < 1000; i++) say({ remote: `10.0.0.${i % 250}` }, 'connection forbidden');
    expect(rec.lines).toHaveLength(3);
    vi.advanceTimersByTime(1000);
    say({ remote: '10.0.0.1' }, 'connection forbidden');
    expect(rec.lines).toHaveLength(5);
    expect(rec.lines[3]).toMatchObject({ suppressed: 997, msg: 'connection forbidden (similar lines suppressed)' });
  });
});
