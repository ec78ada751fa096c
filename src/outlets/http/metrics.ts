/**
 * `GET /metrics`: what the hub knows as Prometheus metrics (names per the Prometheus
 * conventions: `pinetd_` prefix, base units, `_total` counters), the reading as gauges
 * (reading-metrics.ts), the MQTT outlet's section when it runs, this outlet's own counts, and
 * the process (resident memory, CPU seconds, event-loop lag). Built on request from the
 * hub's snapshots; the only state kept here is what Prometheus needs accumulated: the task
 * duration histogram, failed-sensor counters, HTTP responses by code.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Hub } from '../../hub/hub.js';
import type { TaskResult } from '../../tasks/runner.js';
import { Exposition, Histogram, labelValue, type Sample } from './exposition.js';
import { ReadingMetrics } from './reading-metrics.js';

/** Seconds: from a GPIO read (ms) to several DS18B20 conversions (~750 ms each). */
export const TASK_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Event-loop sampling period: coarse, so an idle Pi Zero is woken 20 times a second, not 100. */
const LOOP_RESOLUTION_MS = 50;

export interface MetricsDeps {
  readonly hub: Hub;
  /** Open HTTP connections and event streams right now. */
  readonly connections: () => number;
  readonly streams: () => number;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const LED_LIT: Readonly<Record<string, number>> = { on: 1, blinking: 1, off: 0 };

export class Metrics {
  readonly #deps: MetricsDeps;
  readonly #taskDuration = new Histogram(TASK_BUCKETS);
  readonly #reading: ReadingMetrics;
  /** HTTP responses by status code (a handful of codes: bounded). */
  readonly #responses = new Map<number, number>();
  /** Started by the first scrape: a page-only setup never pays for the sampling timer. */
  #loop: IntervalHistogram | undefined;
  readonly #startedAt = Date.now() / 1000 - process.uptime();

  constructor(deps: MetricsDeps) {
    this.#deps = deps;
    this.#reading = new ReadingMetrics(deps.hub.info.task);
  }

  task(result: TaskResult): void {
    this.#taskDuration.observe(result.durationMs / 1000);
  }

  reading(value: unknown): void {
    this.#reading.observe(value);
  }

  response(status: number): void {
    this.#responses.set(status, (this.#responses.get(status) ?? 0) + 1);
  }

  close(): void {
    this.#loop?.disable();
  }

  /** The exposition text. Event-loop lag covers the time since the previous scrape. */
  render(): string {
    const { hub } = this.#deps;
    const info = hub.info;
    const status = hub.status();
    const c = hub.counters;
    const exp = new Exposition()
      .gauge('pinetd_info', 'Build and device facts of this pinetd; always 1.', [{ labels: { device_id: info.deviceId, version: info.version, node: info.node, arch: info.arch, gpio: info.gpio, task: info.task }, value: 1 }])
      .gauge('pinetd_up', 'State: 1 serving (a pause included), 0 draining for shutdown.', hub.state === 'draining' ? 0 : 1)
      .gauge('pinetd_clients', 'TCP clients connected now.', hub.clients)
      .counter('pinetd_requests_total', 'TCP requests answered since start.', c.requests)
      .counter('pinetd_pauses_total', 'Pauses (task runs) since start.', c.pauses)
      .counter('pinetd_pauses_skipped_total', 'Pause periods skipped because the previous task was still running.', c.skippedPauses)
      .counter('pinetd_task_failures_total', 'Task runs that threw or timed out since start.', c.taskFailures)
      .histogram('pinetd_task_duration_seconds', 'Duration of task runs (successful or not).', this.#taskDuration);
    const latest = hub.latest;
    exp.gauge('pinetd_last_reading_timestamp_seconds', 'Unix time of the latest successful reading.', latest ? Date.parse(latest.reading.at) / 1000 : undefined);
    exp.gauge('pinetd_history_readings', 'Readings held in the history.', hub.history.size);
    this.#reading.write(exp, latest?.reading.value);
    exp.gauge('pinetd_led_on', 'Status LED lit (1, blinking counts) or dark (0), by role.', ledSamples(status.leds));
    if (isRecord(status.mqtt)) {
      const m = status.mqtt;
      exp.gauge('pinetd_mqtt_connected', 'MQTT broker connection up (1) or down (0).', typeof m.connected === 'boolean' ? Number(m.connected) : undefined);
      exp.gauge('pinetd_mqtt_queued', 'MQTT messages queued for the broker.', typeof m.queued === 'number' ? m.queued : undefined);
      exp.counter('pinetd_mqtt_dropped_total', 'MQTT messages dropped because the queue was full.', typeof m.dropped === 'number' ? m.dropped : []);
    }
    exp
      .gauge('pinetd_http_connections', 'HTTP connections open now.', this.#deps.connections())
      .gauge('pinetd_http_event_streams', 'Event streams (/events) open now.', this.#deps.streams())
      .counter('pinetd_http_responses_total', 'HTTP responses since start, by status code.', [...this.#responses].sort(([a], [b]) => a - b).map(([code, n]) => ({ labels: { code: String(code) }, value: n })));
    const cpu = process.cpuUsage();
    const lag = (ns: number): number => Math.max(0, ns / 1e9 - LOOP_RESOLUTION_MS / 1000);
    const loop = this.#loop;
    const sampled = loop !== undefined && loop.count > 0;
    exp
      .gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', process.memoryUsage.rss())
      .counter('process_cpu_seconds_total', 'User and system CPU time spent in seconds.', (cpu.user + cpu.system) / 1e6)
      .gauge('process_start_time_seconds', 'Start time of the process since the Unix epoch in seconds.', Math.round(this.#startedAt))
      .gauge('pinetd_event_loop_lag_p99_seconds', 'Event-loop delay, 99th percentile since the previous scrape (0 at the first).', sampled ? lag(loop.percentile(99)) : 0)
      .gauge('pinetd_event_loop_lag_max_seconds', 'Event-loop delay, maximum since the previous scrape (0 at the first).', sampled ? lag(loop.max) : 0);
    if (loop) loop.reset();
    else {
      this.#loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
      this.#loop.enable();
    }
    return exp.text();
  }
}

function ledSamples(leds: unknown): Sample[] {
  if (!isRecord(leds)) return [];
  return Object.entries(leds).map(([role, state]) => ({ labels: { role: labelValue(role) }, value: LED_LIT[String(state)] ?? 0 }));
}
