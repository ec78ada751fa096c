/** `pinetd fleet` against five real daemons on one real broker. */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { MAIN } from '../../helpers/daemon.js';
import { Broker, freePort, Sub, brokerSuite, NO_BROKER } from './broker.js';
import { mqttDaemon, stopDaemon } from './helpers.js';

function fleet(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [MAIN, 'fleet', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    p.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    // 'close', not 'exit': the pipes may still hold the last line at exit.
    p.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const row = (table: string, id: string): string[] => table.split('\n').find((l) => l.startsWith(`${id} `))?.trim().split(/\s{2,}/) ?? [];

describe.skipIf(NO_BROKER)(brokerSuite('pinetd fleet'), { timeout: 30_000 }, () => {
  it('lists five daemons from the retained messages and exits; --watch follows a shutdown', async () => {
    const broker = await Broker.start();
    const ids = ['fleet-1', 'fleet-2', 'fleet-3', 'fleet-4', 'fleet-5'];
    const sub = new Sub(broker, ['pinetd/+/reading']);
    const daemons = await Promise.all(ids.map((id) => mqttDaemon(broker.url, id, ['--pause-every', '200ms', '--mqtt-discovery', 'off'])));
    try {
      await sub.until((ms) => ids.every((id) => ms.some((m) => m.topic === `pinetd/${id}/reading`)));
      const { code, stdout } = await fleet(['--mqtt', broker.url]);
      expect(code).toBe(0);
      const lines = stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^DEVICE\s+STATUS\s+VERSION\s+READ AGO\s+VALUE$/);
      expect(lines).toHaveLength(6);
      for (const id of ids) expect(row(stdout, id)).toEqual([id, 'online', expect.stringMatching(/^\d+\.\d+\.\d+/), expect.stringMatching(/^\d+s$/), expect.stringMatching(/^load \d/)]);

      const watch = spawn(process.execPath, [MAIN, 'fleet', '--mqtt', broker.url, '--watch'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let live = '';
      const seen = (re: RegExp): Promise<void> =>
        new Promise((resolve) => {
          const check = (): void => void (re.test(live) && (watch.stdout.off('data', onData), resolve()));
          const onData = (c: Buffer): void => ((live += c.toString('utf8')), check());
          watch.stdout.on('data', onData);
          check();
        });
      await seen(/fleet-5\s+online/);
      expect(await stopDaemon(daemons[2]!.daemon)).toBe(0);
      await seen(/fleet-3\s+offline/);
      watch.kill('SIGTERM');
    } finally {
      await sub.stop();
      await Promise.all(daemons.map(({ daemon }) => stopDaemon(daemon)));
      await broker.stop();
    }
  });

  it('exits 1 with one line when the broker cannot be reached, 78 for a bad URL', async () => {
    const dead = await fleet(['--mqtt', `mqtt://127.0.0.1:${await freePort()}`]);
    expect(dead.code).toBe(1);
    expect(dead.stderr).toMatch(/^pinetd fleet: cannot reach mqtt:\/\/127\.0\.0\.1:\d+: connect ECONNREFUSED/);
    const bad = await fleet(['--mqtt', 'http://x']);
    expect(bad.code).toBe(78);
  });
});
