/**
 * The hub: the one owner of the device's observable state. The pause sequence, the TCP
 * server and the shutdown state machine report facts here; every outlet (TCP, systemd,
 * LEDs, MQTT, HTTP) subscribes to its events and reads its snapshots, so they all show the
 * same thing and never reach into each other.
 *
 * Payloads are built here, once: the READ JSON when a reading is recorded, each history
 * entry's JSON when it enters the ring, STATUS on request from one function.
 */
import type { Logger } from 'pino';
import type { TaskResult } from '../tasks/runner.js';
import { realTimers, type Timers } from '../util/timers.js';
import { Emitter } from './events.js';
import { entryOf, History, type HistoryEntry, type Reading } from './history.js';

export type RunState = 'serving' | 'paused' | 'draining';

/** A published reading with its payloads, built once. */
export interface PublishedReading {
  readonly reading: Reading;
  /** The READ payload: `{"at":…,"ok":true,"durationMs":…,"value":…}` */
  readonly json: string;
  readonly entry: HistoryEntry;
}

export interface HubEvents {
  /** Every outlet has started (the TCP socket listens, GPIO is set up): READY, ready LED on. */
  ready: undefined;
  /** Requests received (once per read chunk, not per line): the activity LED. */
  activity: number;
  /** The run state changed (serving ⇄ paused, → draining). */
  state: RunState;
  /**
   * A pause begins (true: hold every client, light the task LED) or ends (false: release).
   * Apart from `state`, because a pause that ends while draining changes no state.
   */
  pause: boolean;
  /** A task run finished, successful or not (during the pause). */
  task: TaskResult;
  /** A successful reading, once its pause has ended: push it. */
  reading: PublishedReading;
  /** TCP clients connected now. */
  clients: number;
  /** Seconds left in the shutdown countdown: once at the signal, then once a second. */
  countdown: number;
}

/** Facts fixed at startup, shown in STATUS and by outlets (MQTT info, /metrics pinetd_info). */
export interface DeviceInfo {
  readonly deviceId: string;
  readonly task: string;
  readonly protocol: string;
  readonly gpio: string;
  readonly version: string;
  readonly pid: number;
  readonly node: string;
  readonly arch: string;
}

export interface LastTask {
  readonly ok: boolean;
  readonly durationMs: number;
  readonly at: string;
  readonly error?: { code: string; message: string };
}

export interface HubOptions {
  readonly info: DeviceInfo;
  readonly log: Logger;
  readonly historySize: number;
  readonly historyBytes?: number;
  readonly timers?: Timers;
}

export interface Counters {
  requests: number;
  pauses: number;
  skippedPauses: number;
  taskFailures: number;
}

export class Hub extends Emitter<HubEvents> {
  readonly info: DeviceInfo;
  readonly history: History;
  readonly #timers: Timers;
  readonly #startedAt: number;
  readonly #counters: Counters = { requests: 0, pauses: 0, skippedPauses: 0, taskFailures: 0 };
  /** Extra STATUS sections contributed by outlets (leds, mqtt), in registration order. */
  readonly #sections = new Map<string, () => unknown>();
  #paused = false;
  #draining = false;
  #drainStartedAt = 0;
  #graceMs = 0;
  #clients = 0;
  #lastTask: LastTask | undefined;
  #latest: PublishedReading | undefined;
  #pending: PublishedReading | undefined;

  constructor(opts: HubOptions) {
    super(opts.log);
    this.info = opts.info;
    this.#timers = opts.timers ?? realTimers;
    this.#startedAt = this.#timers.now();
    this.history = new History(opts.historySize, opts.historyBytes);
  }

  get state(): RunState {
    return this.#draining ? 'draining' : this.#paused ? 'paused' : 'serving';
  }

  get clients(): number {
    return this.#clients;
  }

  get counters(): Readonly<Counters> {
    return this.#counters;
  }

  get lastTask(): LastTask | undefined {
    return this.#lastTask;
  }

  /** The latest successful reading that has been published, with its payloads. */
  get latest(): PublishedReading | undefined {
    return this.#latest;
  }

  get uptimeMs(): number {
    return Math.round(this.#timers.now() - this.#startedAt);
  }

  /** Seconds left in the countdown (0 when not draining). */
  get remainingS(): number {
    if (!this.#draining) return 0;
    return Math.max(0, Math.ceil((this.#graceMs - (this.#timers.now() - this.#drainStartedAt)) / 1000));
  }

  /** An outlet's part of STATUS (e.g. `leds`, `mqtt`); shown under `name`. */
  addSection(name: string, snapshot: () => unknown): void {
    this.#sections.set(name, snapshot);
  }

  // --- facts reported by their owners -------------------------------------------------

  countRequests(n: number): void {
    this.#counters.requests += n;
    this.emit('activity', n);
  }

  markReady(): void {
    this.emit('ready', undefined);
  }

  setClients(n: number): void {
    if (n === this.#clients) return;
    this.#clients = n;
    this.emit('clients', n);
  }

  pauseSkipped(n: number): void {
    this.#counters.skippedPauses += n;
  }

  /** A pause begins: listeners hold their clients and light the task LED, synchronously. */
  pauseStarted(): void {
    this.#counters.pauses += 1;
    this.#setPaused(true);
  }

  /** A task run finished (still inside the pause). A good one becomes the pending reading. */
  recordTask(result: TaskResult): void {
    this.#lastTask = { ok: result.ok, durationMs: result.durationMs, at: result.at, ...(result.error ? { error: result.error } : {}) };
    if (!result.ok) this.#counters.taskFailures += 1;
    else {
      const reading: Reading = { at: result.at, durationMs: result.durationMs, value: result.value ?? null };
      const json = JSON.stringify({ at: reading.at, ok: true, durationMs: reading.durationMs, value: reading.value });
      this.#pending = { reading, json, entry: entryOf(reading) };
    }
    this.emit('task', result);
  }

  /**
   * The pause is over: listeners release their clients. The pending reading becomes the
   * latest first, so a READ held by the pause already answers with it.
   */
  pauseEnded(): void {
    const pending = this.#pending;
    if (pending) {
      this.#latest = pending;
      this.history.push(pending.entry);
    }
    this.#setPaused(false);
  }

  /** The history saved by the previous run (--state-dir), before the first task runs. */
  restoreHistory(readings: readonly Reading[]): void {
    this.history.load(readings);
  }

  /** Pushes the reading recorded in the pause that just ended (after the release). */
  publish(): void {
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending) this.emit('reading', pending);
  }

  /** The first shutdown signal: from now on the state is `draining`. */
  beginDrain(graceMs: number): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#graceMs = graceMs;
    this.#drainStartedAt = this.#timers.now();
    this.emit('state', 'draining');
  }

  countdown(remainingS: number): void {
    this.emit('countdown', remainingS);
  }

  // --- payloads -------------------------------------------------------------------------

  /** The STATUS object. */
  status(): Record<string, unknown> {
    const t = this.#lastTask;
    const out: Record<string, unknown> = {
      state: this.state,
      uptimeMs: this.uptimeMs,
      clients: this.#clients,
      requests: this.#counters.requests,
      pauses: this.#counters.pauses,
      skippedPauses: this.#counters.skippedPauses,
      taskFailures: this.#counters.taskFailures,
      lastTask: t ? { ok: t.ok, durationMs: t.durationMs, at: t.at, ...(t.error ? { error: t.error } : {}) } : null,
      history: this.history.size,
      historyDropped: this.history.dropped,
      remainingS: this.remainingS,
      deviceId: this.info.deviceId,
      task: this.info.task,
      protocol: this.info.protocol,
      gpio: this.info.gpio,
    };
    for (const [name, snapshot] of this.#sections) out[name] = snapshot();
    out.version = this.info.version;
    out.pid = this.info.pid;
    out.node = this.info.node;
    out.arch = this.info.arch;
    return out;
  }

  /** The READ payload (JSON), or undefined before the first reading. */
  readJson(): string | undefined {
    return this.#latest?.json;
  }

  /** The HISTORY payload: the last n readings (all held when undefined), oldest first. */
  historyJson(n?: number): string {
    return `[${this.history.last(n).map((e) => e.json).join(',')}]`;
  }

  #setPaused(paused: boolean): void {
    if (this.#paused === paused) return;
    const before = this.state;
    this.#paused = paused;
    this.emit('pause', paused);
    if (this.state !== before) this.emit('state', this.state);
  }
}
