/**
 * The broker away: store and forward across a real broker restart, the bounded queue
 * dropping its oldest, a refused password, and serving that never waits for any of it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LineClient } from '../../helpers/client.js';
import { Broker, freePort, Sub, brokerSuite, NO_BROKER } from './broker.js';
import { mqttDaemon, status, stopDaemon, type ReadingPayload } from './helpers.js';

async function history(port: number): Promise<string[]> {
  const c = await LineClient.connect(port);
  try {
    return (JSON.parse(await c.request('HISTORY')) as Array<{ at: string }>).map((e) => e.at);
  } finally {
    c.close();
  }
}

/** The distinct `at`s received on `topic`, in arrival order (QoS 1 may repeat one). */
function arrived(sub: Sub, topic: string): string[] {
  const out: string[] = [];
  for (const m of sub.on(topic)) {
    const at = (JSON.parse(m.payload) as ReadingPayload).at;
    if (!out.includes(at)) out.push(at);
  }
  return out;
}

describe.skipIf(NO_BROKER)(brokerSuite('MQTT outlet while the broker is away'), { timeout: 30_000, concurrent: true }, () => {
  it('keeps every reading of an outage and delivers them in order once the broker is back', async () => {
    const broker = await Broker.start();
    const topic = 'pinetd/out-a/reading';
    // A persistent QoS 1 session: what pinetd sends while this subscriber reconnects is kept for it.
    const sub = new Sub(broker, [topic], { session: 'out-a-observer' });
    const { daemon, port } = await mqttDaemon(broker.url, 'out-a', ['--pause-every', '150ms']);
    try {
      await sub.until(() => arrived(sub, topic).length >= 2);
      await broker.stop();
      await daemon.waitForMsg('mqtt connection lost');
      const lostAt = daemon.logs.length;
      await daemon.waitFor(() => daemon.logs.slice(lostAt).filter((l) => l.msg === 'resumed').length >= 5);
      const during = await status(port);
      expect(during.mqtt.connected).toBe(false);
      expect(during.mqtt.queued).toBeGreaterThanOrEqual(5);
      expect(during.mqtt.lastError).toEqual(expect.any(String));

      await broker.resume();
      const back = await daemon.waitForMsg('mqtt reconnected', 10_000);
      expect(back.afterS).toEqual(expect.any(Number));
      const all = await history(port);
      await sub.until(() => all.every((at) => arrived(sub, topic).includes(at)), 10_000);
      // Every reading, in the order taken, each with its original `at`.
      expect(arrived(sub, topic).slice(0, all.length)).toEqual(all);
      expect((await status(port)).mqtt).toMatchObject({ connected: true, dropped: 0 });
      // One line per state change, not one per retry.
      expect(daemon.messages('mqtt connection lost')).toHaveLength(1);
      expect(daemon.messages('mqtt cannot connect; retrying in the background')).toHaveLength(0);
    } finally {
      await sub.stop();
      await stopDaemon(daemon);
      await broker.stop();
    }
  });

  it('drops the oldest readings when the queue is full, counts them, and sends the rest', async () => {
    const port0 = await freePort();
    const broker = await Broker.start({ port: port0 });
    const topic = 'pinetd/out-b/reading';
    const sub = new Sub(broker, [topic], { session: 'out-b-observer' });
    await sub.until(() => broker.log.includes('out-b-observer'));
    await broker.stop();
    // The broker is down from the start: serving is not delayed and answers at once.
    const { daemon, port } = await mqttDaemon(broker.url, 'out-b', ['--pause-every', '100ms', '--mqtt-queue', '3']);
    try {
      await daemon.waitFor(() => daemon.messages('resumed').length >= 6);
      const c = await LineClient.connect(port);
      expect(await c.request('PING')).toBe('PONG');
      c.close();
      const full = await status(port);
      expect(full.mqtt).toMatchObject({ connected: false, queued: 3 });
      // Every successful reading is either still queued or was dropped and counted.
      expect(full.mqtt.dropped + full.mqtt.queued).toBe(full.pauses - full.taskFailures);
      expect(daemon.messages('mqtt cannot connect; retrying in the background')).toHaveLength(1);

      await broker.resume();
      // Its first connection ever (it never had one): `connected`, not `reconnected`.
      await daemon.waitForMsg('mqtt connected', 10_000);
      const { dropped } = (await status(port)).mqtt;
      const all = await history(port);
      await sub.until(() => arrived(sub, topic).length >= 3, 10_000);
      // The oldest `dropped` readings never arrive; the first to arrive is the next one.
      const got = arrived(sub, topic);
      expect(got[0]).toBe(all[dropped]);
      expect(got.slice(0, 3)).toEqual(all.slice(dropped, dropped + 3));
    } finally {
      await sub.stop();
      await stopDaemon(daemon);
      await broker.stop();
    }
  });

  it('a refused password is logged once, retried quietly, and TCP serving goes on; the right one connects', async () => {
    const broker = await Broker.start({ users: { board: 'right-password' } });
    const dir = mkdtempSync(join(tmpdir(), 'pinetd-'));
    const wrong = join(dir, 'wrong');
    const right = join(dir, 'right');
    writeFileSync(wrong, 'not-the-password\n', { mode: 0o600 });
    writeFileSync(right, 'right-password\n', { mode: 0o600 });
    const sub = new Sub(broker, ['pinetd/+/status'], { extra: ['-u', 'board', '-P', 'right-password'] });
    const bad = await mqttDaemon(broker.url, 'pw-bad', ['--pause-every', '0', '--log-level', 'debug', '--mqtt-username', 'board', '--mqtt-password-file', wrong]);
    const good = await mqttDaemon(broker.url, 'pw-good', ['--pause-every', '0', '--mqtt-username', 'board', '--mqtt-password-file', right]);
    try {
      await sub.next('pinetd/pw-good/status', (m) => m.payload === 'online');
      await bad.daemon.waitFor(() => bad.daemon.messages('mqtt retry scheduled').length >= 3, 10_000);
      expect(bad.daemon.messages('mqtt cannot connect; retrying in the background')).toHaveLength(1);
      const c = await LineClient.connect(bad.port);
      expect(await c.request('PING')).toBe('PONG');
      c.close();
      const { mqtt } = await status(bad.port);
      expect(mqtt.connected).toBe(false);
      expect(mqtt.lastError).toMatch(/not authori[sz]ed|bad user ?name or password/i);
      expect(sub.on('pinetd/pw-bad/status')).toEqual([]);
    } finally {
      await sub.stop();
      await stopDaemon(bad.daemon);
      await stopDaemon(good.daemon);
      await broker.stop();
    }
  });
});
