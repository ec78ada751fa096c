/**
 * One MQTT connection kept alive for as long as the daemon runs: connect, and after a
 * failure or a loss try again on our own backoff schedule (MQTT.js's fixed-period reconnect
 * is off). Each attempt is a fresh client with the `offline` will, so nothing of a broken
 * session lingers. State changes are logged once: connected, lost (with the reason),
 * reconnected (after N s); a failing attempt is a debug line, not a warning per retry.
 *
 * Publishing works only while connected: the caller keeps what must not be lost (the
 * reading queue) and we never let MQTT.js buffer anything offline.
 */
import type { IClientOptions } from 'mqtt';
import type { Logger } from 'pino';
import { PinetdError } from '../../errors.js';
import type { TimerHandle, Timers } from '../../util/timers.js';
import { Backoff } from './backoff.js';
import type { MqttSettings } from './settings.js';

/** The part of MQTT.js's MqttClient this module uses (a test fake implements just this). */
export interface BrokerClient {
  on(event: 'connect' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'message', listener: (topic: string, payload: Buffer, packet: { retain: boolean }) => void): unknown;
  publish(topic: string, payload: string, options: { qos: 0 | 1; retain: boolean }, callback: (err?: Error) => void): unknown;
  subscribe(topic: string, options: { qos: 0 }): unknown;
  end(force: boolean): unknown;
  endAsync(force: boolean): Promise<void>;
}

export type ConnectFn = (url: string, options: IClientOptions) => BrokerClient;

/** A broker that accepts TCP but never answers CONNECT must not hold an attempt for long. */
const CONNECT_TIMEOUT_MS = 10_000;

export interface ConnectionDeps {
  readonly settings: MqttSettings;
  /** The will's topic (`<prefix>/status`). */
  readonly willTopic: string;
  readonly log: Logger;
  readonly timers: Timers;
  readonly random?: () => number;
  /** Each successful connect (CONNACK): publish the birth, discovery, the queue. */
  readonly onConnect: () => void;
  readonly onMessage: (topic: string, payload: string, retained: boolean) => void;
}

export interface PublishOptions {
  readonly qos: 0 | 1;
  readonly retain: boolean;
}

export class Connection {
  readonly #deps: ConnectionDeps;
  readonly #backoff: Backoff;
  #client: BrokerClient | undefined;
  #connected = false;
  #stopped = false;
  #timer: TimerHandle | undefined;
  #everConnected = false;
  /** When the current outage began (monotonic ms), or undefined while connected. */
  #outageSince: number | undefined;
  #outageLogged = false;
  #lastError: string | null = null;
  readonly #pending = new Set<(err: Error) => void>();
  #connect: ConnectFn | undefined;

  constructor(deps: ConnectionDeps) {
    this.#deps = deps;
    this.#backoff = new Backoff(deps.random);
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** The reason of the last failed attempt or loss (kept after a reconnect), or null. */
  get lastError(): string | null {
    return this.#lastError;
  }

  /** The first attempt, with the MQTT library's connect (loaded by then). */
  start(connect: ConnectFn): void {
    if (this.#stopped || this.#connect) return;
    this.#connect = connect;
    this.#outageSince = this.#deps.timers.now();
    this.#attempt();
  }

  /** Resolves on the broker's acknowledgement (QoS 1) or once written (QoS 0). */
  publish(topic: string, payload: string, options: PublishOptions): Promise<void> {
    const client = this.#client;
    if (!client || !this.#connected) return Promise.reject(new Error('not connected'));
    return new Promise((resolve, reject) => {
      this.#pending.add(reject);
      client.publish(topic, payload, { qos: options.qos, retain: options.retain }, (err) => {
        this.#pending.delete(reject);
        if (err) reject(err);
        else resolve();
      });
    });
  }

  subscribe(topic: string): void {
    if (this.#connected) this.#client?.subscribe(topic, { qos: 0 });
  }

  /** No more attempts (shutdown has begun); the current connection stays for the last words. */
  stopRetrying(): void {
    this.#stopped = true;
    this.#deps.timers.clearTimeout(this.#timer);
  }

  /** A clean DISCONNECT (the broker discards the will) after in-flight messages, bounded. */
  async close(timeoutMs = 2000): Promise<void> {
    this.stopRetrying();
    const client = this.#client;
    if (!client) return;
    if (!this.#connected) return this.forceClose();
    let timer: TimerHandle | undefined;
    const timedOut = new Promise<void>((resolve) => (timer = this.#deps.timers.setTimeout(resolve, timeoutMs)));
    await Promise.race([client.endAsync(false).catch(() => undefined), timedOut]);
    this.#deps.timers.clearTimeout(timer);
    this.forceClose();
  }

  /** Synchronous: the socket is destroyed, so the broker will publish the will. */
  forceClose(): void {
    this.stopRetrying();
    const client = this.#client;
    this.#client = undefined;
    this.#connected = false;
    this.#rejectPending(new Error('connection closed'));
    client?.end(true);
  }

  #attempt(): void {
    const { settings, log } = this.#deps;
    if (!this.#connect) return;
    const client = this.#connect(settings.url, {
      clientId: settings.clientId,
      ...(settings.username !== undefined ? { username: settings.username } : {}),
      ...(settings.password !== undefined ? { password: settings.password } : {}),
      ...(settings.ca !== undefined ? { ca: settings.ca } : {}),
      keepalive: settings.keepaliveS,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: CONNECT_TIMEOUT_MS,
      queueQoSZero: false,
      will: { topic: this.#deps.willTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    this.#client = client;
    let error: Error | undefined;
    let closed = false;
    client.on('error', (err) => (error = err));
    client.on('message', (topic, payload, packet) => this.#deps.onMessage(topic, payload.toString('utf8'), packet.retain));
    client.on('connect', () => {
      if (client !== this.#client) return;
      this.#connected = true;
      this.#backoff.reset();
      const since = this.#outageSince ?? this.#deps.timers.now();
      this.#outageSince = undefined;
      this.#outageLogged = false;
      if (this.#everConnected) log.info({ broker: settings.broker, afterS: Math.round((this.#deps.timers.now() - since) / 1000) }, 'mqtt reconnected');
      else log.info({ broker: settings.broker, clientId: settings.clientId }, 'mqtt connected');
      this.#everConnected = true;
      this.#deps.onConnect();
    });
    client.on('close', () => {
      if (closed) return;
      closed = true;
      this.#onClose(client, error);
    });
  }

  #onClose(client: BrokerClient, error: Error | undefined): void {
    if (client !== this.#client) return;
    const { settings, log, timers } = this.#deps;
    const wasConnected = this.#connected;
    this.#connected = false;
    this.#client = undefined;
    this.#rejectPending(new Error('connection lost'));
    client.end(true);
    if (this.#stopped) return;
    const reason = error?.message ?? (wasConnected ? 'connection closed by the broker' : 'connection closed before CONNACK');
    this.#lastError = reason;
    const err = new PinetdError('PINETD_E_MQTT', `${settings.broker}: ${reason}`, error ? { cause: error } : undefined);
    if (wasConnected) {
      this.#outageSince = timers.now();
      log.warn({ err, broker: settings.broker }, 'mqtt connection lost');
    } else if (!this.#outageLogged) {
      log.warn({ err, broker: settings.broker }, 'mqtt cannot connect; retrying in the background');
    }
    this.#outageLogged = true;
    const delayMs = this.#backoff.next();
    log.debug({ reason, delayMs }, 'mqtt retry scheduled');
    this.#timer = timers.setTimeout(() => {
      this.#timer = undefined;
      if (!this.#stopped) this.#attempt();
    }, delayMs);
  }

  #rejectPending(err: Error): void {
    const pending = [...this.#pending];
    this.#pending.clear();
    for (const reject of pending) reject(err);
  }
}
