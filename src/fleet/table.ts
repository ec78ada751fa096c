/**
 * The fleet view's state and its table: what the retained `<root>/<device>/{status,info,
 * reading}` messages say about each device. No state of its own beyond what the broker
 * sent; bounded to MAX_DEVICES devices.
 */
export const MAX_DEVICES = 1000;

export interface DeviceView {
  status?: string | undefined;
  version?: string | undefined;
  /** The reading's `at` (wall clock, ISO 8601). */
  at?: string | undefined;
  value?: unknown;
}

export class Fleet {
  readonly devices = new Map<string, DeviceView>();
  readonly #root: string;

  constructor(root: string) {
    this.#root = root;
  }

  /** Topics to subscribe to. */
  get topics(): string[] {
    return ['status', 'info', 'reading'].map((kind) => `${this.#root}/+/${kind}`);
  }

  /** Takes one message; false if it says nothing about a device (or the table is full). */
  take(topic: string, payload: string): boolean {
    const rest = topic.startsWith(`${this.#root}/`) ? topic.slice(this.#root.length + 1).split('/') : [];
    if (rest.length !== 2) return false;
    const [id = '', kind] = rest;
    let device = this.devices.get(id);
    if (!device) {
      if (this.devices.size >= MAX_DEVICES || payload === '') return false;
      device = {};
      this.devices.set(id, device);
    }
    if (kind === 'status') device.status = payload.slice(0, 16);
    else if (kind === 'info') device.version = stringField(parse(payload), 'version');
    else if (kind === 'reading') {
      const reading = parse(payload);
      device.at = stringField(reading, 'at');
      device.value = reading !== null && typeof reading === 'object' ? (reading as { value?: unknown }).value : undefined;
    } else return false;
    return true;
  }

  /** The table, one device per line, sorted by device id. */
  render(nowMs: number): string {
    const rows = [...this.devices.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([id, d]) => [id, d.status ?? '?', d.version ?? '?', d.at ? age(nowMs - Date.parse(d.at)) : '-', mainValue(d.value)]);
    const all = [['DEVICE', 'STATUS', 'VERSION', 'READ AGO', 'VALUE'], ...rows];
    const widths = all[0]!.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
    return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function stringField(obj: unknown, key: string): string | undefined {
  const v = obj !== null && typeof obj === 'object' ? (obj as Record<string, unknown>)[key] : undefined;
  return typeof v === 'string' ? v.slice(0, 64) : undefined;
}

export function age(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}

/** The reading's headline: the SoC temperature, the first DS18B20, the inputs, or compact JSON. */
export function mainValue(value: unknown): string {
  if (value === undefined) return '-';
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const v = value as Record<string, unknown>;
    if (typeof v.socTempC === 'number') return `${v.socTempC} °C`;
    if (v.sensors !== null && typeof v.sensors === 'object') {
      const first = Object.entries(v.sensors as Record<string, unknown>).find(([, t]) => typeof t === 'number');
      if (first) return `${String(first[1])} °C (${first[0]})`;
    }
    if ('loadAvg' in v && Array.isArray(v.loadAvg)) return `load ${String(v.loadAvg[0])}`;
    const entries = Object.entries(v);
    if (entries.length > 0 && entries.every(([, x]) => x === 0 || x === 1)) return entries.map(([k, x]) => `${k}=${String(x)}`).join(' ').slice(0, 60);
  }
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}
