/**
 * What a subscriber sees on a real Mosquitto, observed with the real mosquitto_sub: birth,
 * readings equal to READ, info, the offline notice at SIGTERM and the will at SIGKILL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineClient } from '../../helpers/client.js';
import { Broker, retainedNow, Sub, brokerSuite, NO_BROKER } from './broker.js';
import { mqttDaemon, status, stopDaemon, type ReadingPayload } from './helpers.js';

let broker: Broker;
beforeAll(async () => {
  if (!NO_BROKER) broker = await Broker.start();
});
afterAll(async () => {
  await broker?.stop();
});

describe.skipIf(NO_BROKER)(brokerSuite('MQTT outlet on a real broker'), { timeout: 20_000, concurrent: true }, () => {
  it('announces itself online (retained), publishes every reading as READ has it, and its info', async () => {
    const sub = new Sub(broker, ['pinetd/pub-a/#']);
    const { daemon, port } = await mqttDaemon(broker.url, 'pub-a', ['--pause-every', '200ms', '--mqtt-discovery', 'off']);
    try {
      await sub.next('pinetd/pub-a/status', (m) => m.payload === 'online');
      await sub.until((ms) => ms.filter((m) => m.topic === 'pinetd/pub-a/reading').length >= 3);
      const readings = sub.on('pinetd/pub-a/reading').map((m) => JSON.parse(m.payload) as ReadingPayload);
      // One message per pause, each a distinct successful run, in order.
      expect(readings.every((r) => r.ok)).toBe(true);
      expect(readings.map((r) => r.at)).toEqual([...new Set(readings.map((r) => r.at))].sort());

      // Byte for byte the READ payload.
      const c = await LineClient.connect(port);
      const read = await c.request('READ');
      c.close();
      await sub.next('pinetd/pub-a/reading', (m) => m.payload === read);

      const [statusMsg] = await retainedNow(broker, 'pinetd/pub-a/status', 1);
      expect(statusMsg).toEqual({ retained: true, topic: 'pinetd/pub-a/status', payload: 'online' });
      const [reading] = await retainedNow(broker, 'pinetd/pub-a/reading', 1);
      expect(reading?.retained).toBe(true);
      expect(JSON.parse(reading!.payload)).toMatchObject({ ok: true, value: { loadAvg: expect.any(Array) } });
      const [info] = await retainedNow(broker, 'pinetd/pub-a/info', 1);
      expect(info?.retained).toBe(true);
      expect(JSON.parse(info!.payload)).toEqual({ deviceId: 'pub-a', version: expect.stringMatching(/^\d+\.\d+\.\d+/), task: 'board', gpio: 'mock', arch: process.arch, node: process.version, startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
      const { mqtt } = await status(port);
      expect(mqtt).toEqual({ connected: true, queued: expect.any(Number), dropped: 0, lastError: null });
      // At most the reading of the pause that just ended, awaiting its PUBACK.
      expect(mqtt.queued).toBeLessThanOrEqual(1);
    } finally {
      await sub.stop();
      await stopDaemon(daemon);
    }
  });

  it('says offline at the first SIGTERM, while the countdown still serves, then disconnects cleanly', async () => {
    const sub = new Sub(broker, ['pinetd/pub-b/status']);
    const { daemon, port } = await mqttDaemon(broker.url, 'pub-b', ['--pause-every', '0', '--shutdown-grace', '5s']);
    const client = await LineClient.connect(port);
    try {
      await sub.next('pinetd/pub-b/status', (m) => m.payload === 'online');
      daemon.kill('SIGTERM');
      await sub.next('pinetd/pub-b/status', (m) => m.payload === 'offline');
      // Still running and answering: the countdown keeps serving its connected client.
      expect(daemon.proc.exitCode).toBeNull();
      expect(await client.next()).toBe('SHUTDOWN');
      expect(await client.request('PING')).toBe('PONG');
      client.close();
      expect((await daemon.exited).code).toBe(0);
      const [retained] = await retainedNow(broker, 'pinetd/pub-b/status', 1);
      expect(retained).toEqual({ retained: true, topic: 'pinetd/pub-b/status', payload: 'offline' });
      // A DISCONNECT, not a dropped socket: the offline above was pinetd's own, not the will.
      expect(broker.log).toContain('Client pinetd_pub-b disconnected.');
    } finally {
      client.close();
      await sub.stop();
      await stopDaemon(daemon);
    }
  });

  it('leaves the will (offline, retained) when killed, within 1.5 keepalives', async () => {
    const sub = new Sub(broker, ['pinetd/pub-c/status']);
    const { daemon } = await mqttDaemon(broker.url, 'pub-c', ['--pause-every', '0', '--mqtt-keepalive', '2s']);
    try {
      await sub.next('pinetd/pub-c/status', (m) => m.payload === 'online');
      const t0 = performance.now();
      daemon.kill('SIGKILL');
      await sub.next('pinetd/pub-c/status', (m) => m.payload === 'offline', 3000);
      expect(performance.now() - t0).toBeLessThan(3000);
      const [retained] = await retainedNow(broker, 'pinetd/pub-c/status', 1);
      expect(retained?.payload).toBe('offline');
      expect(broker.log).not.toContain('Client pinetd_pub-c disconnected.');
    } finally {
      await sub.stop();
      await stopDaemon(daemon);
    }
  });
});
