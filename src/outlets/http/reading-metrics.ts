/**
 * The latest reading as Prometheus gauges, by task: `board` (SoC temperature, thermal zones,
 * load average), `ds18b20` (each sensor's temperature; failed reads counted by sensor and
 * reason), `gpio-inputs` (each input 0/1), and any other task's numeric values as
 * `pinetd_reading_value{field="a.b"}`. Label sets are bounded: a task cannot blow up the
 * scrape with thousands of series.
 */
import { Exposition, labelValue, type Sample } from './exposition.js';

/** Series per family at most (DS18B20 buses hold 64 sensors; inputs are a handful). */
export const MAX_SERIES = 64;
const MAX_ERROR_SERIES = 1024;
const MAX_DEPTH = 4;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function samplesOf(map: unknown, label: string): Sample[] {
  if (!isRecord(map)) return [];
  const out: Sample[] = [];
  for (const [key, v] of Object.entries(map)) {
    const value = num(v);
    if (value !== undefined && out.length < MAX_SERIES) out.push({ labels: { [label]: labelValue(key) }, value });
  }
  return out;
}

/** Numeric (and boolean) leaves of a user task's value, as dotted paths. */
export function numericLeaves(value: unknown, prefix = '', depth = 0, out: Sample[] = []): Sample[] {
  if (out.length >= MAX_SERIES) return out;
  const n = typeof value === 'boolean' ? Number(value) : num(value);
  if (n !== undefined) {
    out.push({ labels: { field: labelValue(prefix === '' ? 'value' : prefix) }, value: n });
    return out;
  }
  if (depth >= MAX_DEPTH || (typeof value !== 'object' || value === null)) return out;
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  for (const [key, v] of entries) numericLeaves(v, prefix === '' ? key : `${prefix}.${key}`, depth + 1, out);
  return out;
}

export class ReadingMetrics {
  readonly #task: string;
  /** ds18b20 failures since start: `sensor\0reason` -> count. */
  readonly #errors = new Map<string, number>();

  constructor(task: string) {
    this.#task = task;
  }

  /** Every successful reading: counts the DS18B20 sensors that failed in it. */
  observe(value: unknown): void {
    if (this.#task !== 'ds18b20' || !isRecord(value) || !isRecord(value.errors)) return;
    for (const [sensor, reason] of Object.entries(value.errors)) {
      const key = `${labelValue(sensor)}\0${labelValue(String(reason))}`;
      if (!this.#errors.has(key) && this.#errors.size >= MAX_ERROR_SERIES) continue;
      this.#errors.set(key, (this.#errors.get(key) ?? 0) + 1);
    }
  }

  /** The gauges for the latest value (nothing before the first reading). */
  write(exp: Exposition, value: unknown): void {
    if (this.#task === 'ds18b20') {
      const errors = [...this.#errors].map(([key, n]) => {
        const [sensor = '', reason = ''] = key.split('\0');
        return { labels: { sensor, reason }, value: n };
      });
      exp.counter('pinetd_ds18b20_errors_total', 'DS18B20 reads rejected since start, by sensor and reason (crc, power-on, range, no-data, io:<errno>).', errors);
    }
    if (value === undefined) return;
    const v = isRecord(value) ? value : {};
    switch (this.#task) {
      case 'board': {
        exp.gauge('pinetd_soc_temperature_celsius', 'SoC/CPU temperature of the latest reading.', num(v.socTempC));
        exp.gauge('pinetd_thermal_zone_temperature_celsius', 'Each readable thermal zone of the latest reading, by zone type.', samplesOf(v.zones, 'zone'));
        const load = Array.isArray(v.loadAvg) ? v.loadAvg : [];
        exp.gauge('pinetd_load_average', 'Load average of the latest reading, by window.', ['1m', '5m', '15m'].map((window, i) => ({ labels: { window }, value: num(load[i]) ?? NaN })));
        return;
      }
      case 'ds18b20':
        exp.gauge('pinetd_ds18b20_temperature_celsius', 'DS18B20 temperature of the latest reading, by sensor (failed sensors absent).', samplesOf(v.sensors, 'sensor'));
        return;
      case 'gpio-inputs':
        exp.gauge('pinetd_gpio_input', 'Logical level of each input in the latest reading (activeLow applied).', samplesOf(v, 'name'));
        return;
      default:
        exp.gauge('pinetd_reading_value', "Numeric values of the task's latest reading, by dotted field path.", numericLeaves(value));
    }
  }
}
