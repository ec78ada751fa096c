/**
 * The MQTT outlet: the hub's facts on a broker. Built only when --mqtt is set; daemon.ts
 * imports this module (and with it the MQTT library) dynamically, so an unconfigured outlet
 * costs nothing.
 *
 * - `<prefix>/status` retained: `online` at every connect, `offline` as the will and at the
 *   first shutdown signal; then a clean DISCONNECT in close().
 * - `<prefix>/reading` retained, QoS 1: the READ payload of every published reading, through
 *   the bounded store-and-forward queue, in order, each acknowledged before the next.
 * - `<prefix>/info` retained; Home Assistant discovery (discovery.ts) unless `off`.
 * Never stops or delays serving: start() only begins the first attempt.
 */
import type { Logger } from 'pino';
import type { Config } from '../../config/options.js';
import { parsePinMap } from '../../gpio/pins.js';
import type { Hub } from '../../hub/hub.js';
import type { Timers } from '../../util/timers.js';
import type { Outlet } from '../outlet.js';
import { Connection, type ConnectFn } from './connection.js';
import { configMessage, EntitySet, initialEntities, moduleEntities, type Entity } from './discovery.js';
import { ReadingQueue } from './queue.js';
import { resolveMqttSettings, type MqttSettings } from './settings.js';
import { buildTopics } from './topics.js';
import { importModule } from '../../util/import-module.js';

export interface MqttOutletDeps {
  readonly settings: MqttSettings;
  /** Loads the MQTT library (a dynamic import, after the TCP socket listens). */
  readonly loadConnect: () => Promise<ConnectFn>;
  readonly hub: Hub;
  readonly log: Logger;
  readonly timers: Timers;
  /** The entities known at startup (initialEntities()). */
  readonly entities: readonly Entity[];
  readonly random?: () => number;
  /** Wall clock for `info.startedAt`. */
  readonly now?: () => Date;
}

export type MqttOutletFactory = (deps: { hub: Hub; log: Logger; timers: Timers }) => Outlet;

/**
 * Everything that can fail with exit 78 (credentials, CA, the task's entities), before any
 * socket: daemon.ts calls this before the hardware is set up. The MQTT library itself is
 * loaded by start(), after the TCP socket listens, so it does not delay serving.
 */
export function prepareMqttOutlet(config: Readonly<Config>, taskName: string, taskEntities: unknown): MqttOutletFactory | undefined {
  const settings = resolveMqttSettings(config);
  if (!settings) return undefined;
  const entities = initialEntities(taskName, taskName === 'gpio-inputs' ? parsePinMap('inputs', config.inputs) : [], moduleEntities(taskEntities));
  const loadConnect = async (): Promise<ConnectFn> => ((await importModule('mqtt')) as typeof import('mqtt')).connect;
  return ({ hub, log, timers }) => createMqttOutlet({ settings, loadConnect, hub, log, timers, entities });
}

export function createMqttOutlet(deps: MqttOutletDeps): Outlet {
  const { settings, hub, timers } = deps;
  const log = deps.log.child({ outlet: 'mqtt' });
  const topics = buildTopics(settings.prefix, settings.discovery);
  const queue = new ReadingQueue(settings.queueSize);
  const entities = new EntitySet(hub.info.task, deps.entities);
  const device = { deviceId: settings.deviceId, version: hub.info.version };
  const info = JSON.stringify({
    deviceId: settings.deviceId,
    version: hub.info.version,
    task: hub.info.task,
    gpio: hub.info.gpio,
    arch: hub.info.arch,
    node: hub.info.node,
    startedAt: (deps.now ?? (() => new Date()))().toISOString(),
  });
  let draining = false;
  let pumping = false;

  const send = (topic: string, payload: string, qos: 0 | 1 = 1): void => {
    connection.publish(topic, payload, { qos, retain: true }).catch((err: unknown) => log.debug({ err, topic }, 'mqtt publish not acknowledged'));
  };
  const announce = (list: readonly Entity[]): void => {
    if (settings.discovery === null || !connection.connected) return;
    for (const entity of list) {
      const { topic, payload } = configMessage(entity, topics, device);
      send(topic, payload);
    }
  };
  /** Publishes the queue oldest first, one acknowledged reading at a time. */
  const pump = async (): Promise<void> => {
    if (pumping) return;
    pumping = true;
    try {
      while (connection.connected) {
        const item = queue.send();
        if (!item) break;
        await connection.publish(topics.reading, item.json, { qos: 1, retain: true });
        queue.acknowledge(item);
      }
    } catch {
      // The connection was lost: what is not acknowledged stays queued for the next one.
      queue.release();
    } finally {
      pumping = false;
    }
  };

  const connection: Connection = new Connection({
    settings,
    willTopic: topics.status,
    log,
    timers,
    ...(deps.random ? { random: deps.random } : {}),
    onConnect: () => {
      send(topics.status, draining ? 'offline' : 'online');
      if (draining) return;
      send(topics.info, info);
      announce(entities.all());
      if (topics.discoveryStatus !== null) connection.subscribe(topics.discoveryStatus);
      void pump();
    },
    onMessage: (topic, payload, retained) => {
      // Home Assistant (re)started: it forgot every entity. A retained birth was already answered at connect.
      if (topic === topics.discoveryStatus && payload === 'online' && !retained) announce(entities.all());
    },
  });

  hub.on('reading', ({ reading, json }) => {
    queue.push({ at: reading.at, json });
    announce(entities.observe(reading.value));
    void pump();
  });
  hub.on('state', (state) => {
    if (state !== 'draining' || draining) return;
    draining = true;
    connection.stopRetrying();
    if (connection.connected) send(topics.status, 'offline');
  });
  hub.addSection('mqtt', () => ({ connected: connection.connected, queued: queue.size, dropped: queue.dropped, lastError: connection.lastError }));

  return {
    name: 'mqtt',
    // Not awaited: serving never waits for the library or the broker.
    start: async () => {
      deps.loadConnect().then(
        (connect) => connection.start(connect),
        (err: unknown) => log.error({ err }, 'mqtt library failed to load; the MQTT outlet is off'),
      );
    },
    close: () => connection.close(),
    forceClose: () => connection.forceClose(),
  };
}
