/** The flush schedule and the final writes, against real files. */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { History, entryOf } from '../../src/hub/history.js';
import { KvStore } from '../../src/protocol/store.js';
import { StatePersistence } from '../../src/store/persistence.js';
import { loadState } from '../../src/store/state-dir.js';
import { realTimers } from '../../src/util/timers.js';
import { recordingLogger } from '../helpers/fake.js';

const root = mkdtempSync(join(tmpdir(), 'pinetd-persist-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function setup(name: string, flushMs: number) {
  const dir = join(root, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  return setupIn(dir, flushMs);
}

function setupIn(dir: string, flushMs: number) {
  const rec = recordingLogger('debug');
  const store = new KvStore();
  const history = new History(100);
  const { history: saved } = loadState(dir, store, rec.log);
  history.load(saved);
  const p = new StatePersistence({ dir, store, history, flushMs, log: rec.log, timers: realTimers });
  return { dir, rec, store, history, p, writes: () => rec.lines.filter((l) => l.msg === 'state written').length };
}

describe('StatePersistence', () => {
  it('coalesces a stream of SETs into at most one write per flush interval, and writes nothing when idle', async () => {
    const { dir, store, writes, p } = setup('coalesce', 200);
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) {
      store.set(`k${i}`, `v${i}`);
      await sleep(10);
    }
    await sleep(300);
    const elapsed = performance.now() - t0;
    expect(writes()).toBeGreaterThanOrEqual(2);
    expect(writes()).toBeLessThanOrEqual(Math.ceil(elapsed / 200) + 1); // not 100
    const kv = JSON.parse(readFileSync(join(dir, 'kv.json'), 'utf8')) as { kv: unknown[] };
    expect(kv.kv).toHaveLength(100);
    const idle = writes();
    await sleep(500);
    expect(writes()).toBe(idle);
    await p.close();
    expect(readdirSync(dir).sort()).toEqual(['kv.json']); // no temporary files left; history unchanged, not written
  });

  it('close() saves the last change and the history; a new instance loads both', async () => {
    const { dir, store, history, p } = setup('close', 60_000);
    store.set('a', '1');
    history.push(entryOf({ at: '2026-01-01T00:00:00.000Z', durationMs: 3, value: { t: 1 } }));
    await p.close();
    const again = setupIn(dir, 60_000);
    expect(again.store.get('a')).toBe('1');
    expect(again.history.last().map((e) => e.json)).toEqual(['{"at":"2026-01-01T00:00:00.000Z","durationMs":3,"value":{"t":1}}']);
  });

  it('closeSync() writes at once, and an asynchronous write still under way can no longer replace it', async () => {
    const { dir, store, p } = setup('sync', 10);
    store.set('a', 'old');
    await sleep(0); // the flush timer (0 ms: no write yet) fires and an async write starts
    await sleep(1);
    store.set('a', 'new');
    p.closeSync();
    await sleep(100); // let the async write finish: it must not rename its older copy over
    const kv = JSON.parse(readFileSync(join(dir, 'kv.json'), 'utf8')) as { kv: Array<[string, string]> };
    expect(kv.kv).toEqual([['a', 'new']]);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});
