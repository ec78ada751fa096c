/**
 * Shutdown as a user sees it: a real daemon process, real signals, real sockets, measured
 * exit codes and times.
 */
import { describe, expect, it } from 'vitest';
import { LineClient } from '../helpers/client.js';
import { startDaemon } from '../helpers/daemon.js';

const SIGNALS = [
  ['SIGHUP', 1],
  ['SIGINT', 2],
  ['SIGQUIT', 3],
  ['SIGTERM', 15],
] as const;

/** A daemon with one client that has been answered, signalled now; resolves on its exit. */
async function signalWithClient(args: string[], signal: NodeJS.Signals) {
  const { daemon, port } = await startDaemon(args);
  const client = await LineClient.connect(port);
  expect(await client.request('PING')).toBe('PONG');
  daemon.exitTimer();
  daemon.kill(signal);
  return { daemon, client, exit: await daemon.exited };
}

describe.concurrent('graceful shutdown', () => {
  for (const [signal] of SIGNALS) {
    it(`${signal}: tells clients SHUTDOWN, refuses newcomers, keeps serving, exits 0 once the last client leaves`, async () => {
      const { daemon, port } = await startDaemon(['--shutdown-grace', '10s', '--pause-every', '0']);
      const client = await LineClient.connect(port);
      client.send('PING\n');
      expect(await client.next()).toBe('PONG');

      daemon.kill(signal);
      expect(await client.next()).toBe('SHUTDOWN');
      const logged = await daemon.waitForMsg('shutdown signal received: draining');
      expect(logged).toMatchObject({ signal, graceMs: 10_000 });
      expect((await daemon.waitForMsg('shutting down')).remainingS).toBe(10);

      const late = await LineClient.connect(port);
      await late.waitClosed();
      expect(late.lines).toEqual(['SHUTDOWN']);

      client.send('ECHO still here\n');
      expect(await client.next()).toBe('still here');

      daemon.exitTimer();
      client.close();
      const exit = await daemon.exited;
      expect(exit.code).toBe(0);
      expect(exit.ms).toBeLessThan(2000); // not the 10 s grace period
      expect(daemon.logs.at(-1)).toMatchObject({ msg: 'stopped', exitCode: 0 });
    });
  }

  it('counts down once a second and closes a client that stays at the deadline', async () => {
    const { daemon, client, exit } = await signalWithClient(['--shutdown-grace', '2s', '--pause-every', '0'], 'SIGTERM');
    expect(exit.code).toBe(0);
    expect(exit.ms).toBeGreaterThanOrEqual(1900);
    expect(exit.ms).toBeLessThan(3500);
    expect(daemon.messages('shutting down').map((l) => l.remainingS)).toEqual([2, 1]);
    expect(daemon.logs.find((l) => l.msg === 'closing')).toMatchObject({ reason: 'grace period over', clients: 1 });
    await client.waitClosed();
    expect(client.lines).toEqual(['PONG', 'SHUTDOWN']);
  });

  it('exits at the deadline even when a refused client never reads or closes', async () => {
    const { daemon, port } = await startDaemon(['--shutdown-grace', '1s', '--pause-every', '0']);
    const stays = await LineClient.connect(port);
    expect(await stays.request('PING')).toBe('PONG');
    daemon.exitTimer();
    daemon.kill('SIGTERM');
    expect(await stays.next()).toBe('SHUTDOWN');
    const refused = await LineClient.connect(port);
    refused.socket.pause(); // never reads, never closes
    const exit = await daemon.exited;
    expect(exit.code).toBe(0);
    expect(exit.ms).toBeLessThan(1700); // not the grace plus a 2 s flush allowance
    refused.close();
  });

  it('exits at once with no clients connected', async () => {
    const { daemon } = await startDaemon(['--shutdown-grace', '10s']);
    daemon.exitTimer();
    daemon.kill('SIGINT');
    const exit = await daemon.exited;
    expect(exit.code).toBe(0);
    expect(exit.ms).toBeLessThan(1500);
  });

  it('with --shutdown-grace 0 notifies and exits at once', async () => {
    const { client, exit } = await signalWithClient(['--shutdown-grace', '0'], 'SIGTERM');
    expect(exit.code).toBe(0);
    expect(exit.ms).toBeLessThan(1500);
    await client.waitClosed();
    expect(client.lines).toEqual(['PONG', 'SHUTDOWN']);
  });

  for (const [second, n] of SIGNALS) {
    it(`a second signal (${second}) forces exit ${128 + n} without waiting`, async () => {
      const { daemon, port } = await startDaemon(['--shutdown-grace', '30s']);
      const client = await LineClient.connect(port);
      client.send('PING\n');
      await client.next();
      daemon.kill('SIGTERM');
      await daemon.waitForMsg('shutting down');
      daemon.exitTimer();
      daemon.kill(second);
      const exit = await daemon.exited;
      expect(exit.code).toBe(128 + n);
      expect(exit.ms).toBeLessThan(1500);
      expect(daemon.logs.find((l) => l.msg === 'second signal: forcing exit')).toMatchObject({ signal: second, exitCode: 128 + n });
      expect(daemon.logs.at(-1)).toMatchObject({ msg: 'stopped', exitCode: 128 + n });
      await client.waitClosed();
    });
  }

  it('a signal during a pause lets the task finish before exiting', async () => {
    const { daemon } = await startDaemon(['--pause-every', '200ms', '--task', 'test/fixtures/tasks/slow.mjs', '--task-timeout', '5s'], { PINETD_TEST_TASK_MS: '1200' });
    await daemon.waitForMsg('paused');
    daemon.exitTimer();
    daemon.kill('SIGTERM');
    const exit = await daemon.exited;
    expect(exit.code).toBe(0);
    const order = daemon.logs.map((l) => l.msg).filter((m) => ['paused', 'shutdown signal received: draining', 'resumed', 'stopped'].includes(m));
    expect(order).toEqual(['paused', 'shutdown signal received: draining', 'resumed', 'stopped']);
    expect(daemon.logs.find((l) => l.msg === 'resumed')).toMatchObject({ ok: true });
  });
});
