/** The reconnect schedule and what gets logged, on fake timers with a fake MQTT client. */
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BACKOFF_MAX_MS, Backoff } from '../../../src/outlets/mqtt/backoff.js';
import { Connection, type BrokerClient } from '../../../src/outlets/mqtt/connection.js';
import type { MqttSettings } from '../../../src/outlets/mqtt/settings.js';
import { fakeTimers, recordingLogger } from '../../helpers/fake.js';

class FakeClient extends EventEmitter implements BrokerClient {
  readonly published: Array<{ topic: string; payload: string; callback: (err?: Error) => void }> = [];
  ended = false;
  publish(topic: string, payload: string, _options: unknown, callback: (err?: Error) => void): void {
    this.published.push({ topic, payload, callback });
  }
  subscribe(): void {}
  end(): void {
    this.ended = true;
  }
  endAsync(): Promise<void> {
    this.ended = true;
    return Promise.resolve();
  }
  refuse(message: string): void {
    this.emit('error', new Error(message));
    this.emit('close');
  }
}

const settings: MqttSettings = { url: 'mqtt://127.0.0.1:1883', broker: 'mqtt://127.0.0.1:1883', clientId: 'pinetd_t', deviceId: 't', prefix: 'pinetd/t', discovery: null, keepaliveS: 30, queueSize: 10 };

function setup() {
  const rec = recordingLogger();
  const clients: FakeClient[] = [];
  const attempts: number[] = [];
  let connects = 0;
  const connection = new Connection({ settings, willTopic: 'pinetd/t/status', log: rec.log, timers: fakeTimers, random: () => 0, onConnect: () => void (connects += 1), onMessage: () => {} });
  connection.start(() => {
    attempts.push(Date.now());
    const c = new FakeClient();
    clients.push(c);
    return c;
  });
  const last = (): FakeClient => clients[clients.length - 1]!;
  return { rec, clients, attempts, connection, last, connects: () => connects };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('MQTT connection', () => {
  it('retries a refusing broker at 1, 2, 4 … s up to 30 s, logging one warning for the whole outage', async () => {
    const { rec, attempts, last } = setup();
    for (let i = 0; i < 8; i++) {
      last().refuse('connect ECONNREFUSED 127.0.0.1:1883');
      await vi.runOnlyPendingTimersAsync();
    }
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    expect(gaps).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(rec.msgs().filter((m) => m.startsWith('mqtt cannot connect'))).toHaveLength(1);
    expect(rec.lines.find((l) => l.msg.startsWith('mqtt cannot connect'))).toMatchObject({ err: { code: 'PINETD_E_MQTT', message: expect.stringContaining('ECONNREFUSED') } });
  });

  it('logs connected, lost with the reason, reconnected after N s; the schedule restarts at 1 s', async () => {
    const { rec, attempts, last, connection, connects } = setup();
    last().emit('connect');
    expect(connection.connected).toBe(true);
    vi.advanceTimersByTime(60_000);
    last().refuse('read ECONNRESET');
    expect(connection.lastError).toBe('read ECONNRESET');
    await vi.runOnlyPendingTimersAsync();
    last().refuse('connect ECONNREFUSED');
    await vi.runOnlyPendingTimersAsync();
    last().emit('connect');
    expect(attempts.slice(1).map((t, i) => t - attempts[i]!)).toEqual([61_000, 2000]);
    expect(rec.msgs().filter((m) => m.startsWith('mqtt'))).toEqual(['mqtt connected', 'mqtt connection lost', 'mqtt retry scheduled', 'mqtt retry scheduled', 'mqtt reconnected']);
    expect(rec.lines.find((l) => l.msg === 'mqtt connection lost')).toMatchObject({ err: { message: expect.stringContaining('read ECONNRESET') } });
    expect(rec.lines.find((l) => l.msg === 'mqtt reconnected')).toMatchObject({ afterS: 3 });
    expect(connects()).toBe(2);
    last().refuse('again');
    await vi.runOnlyPendingTimersAsync();
    expect(attempts[attempts.length - 1]! - attempts[attempts.length - 2]!).toBe(1000);
  });

  it('fails a publish that is in flight when the connection drops, and refuses one while disconnected', async () => {
    const { last, connection } = setup();
    last().emit('connect');
    const inFlight = connection.publish('pinetd/t/reading', '{}', { qos: 1, retain: true });
    last().refuse('read ECONNRESET');
    await expect(inFlight).rejects.toThrow('connection lost');
    await expect(connection.publish('pinetd/t/reading', '{}', { qos: 1, retain: true })).rejects.toThrow('not connected');
  });

  it('makes no attempt after stopRetrying (shutdown), and close() ends the client', async () => {
    const { attempts, last, connection } = setup();
    last().refuse('connect ECONNREFUSED');
    connection.stopRetrying();
    await vi.runAllTimersAsync();
    expect(attempts).toHaveLength(1);
    await connection.close();
    expect(last().ended).toBe(true);
  });
});

describe('Backoff', () => {
  it('jitters each delay down by at most a fifth and never passes 30 s', () => {
    const low = new Backoff(() => 1);
    expect([1, 2, 3].map(() => low.next())).toEqual([800, 1600, 3200]);
    const b = new Backoff(() => 0);
    for (let i = 0; i < 40; i++) expect(b.next()).toBeLessThanOrEqual(BACKOFF_MAX_MS);
  });
});
