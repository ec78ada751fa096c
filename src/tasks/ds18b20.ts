/**
 * Built-in task `ds18b20`: reads every DS18B20 1-wire sensor under `<w1Root>/28-<serial>/w1_slave`
 * (`--w1-root`, default /sys/bus/w1/devices).
 *
 * Result shape (stable, so clients need no existence checks):
 *   { "sensors": { "28-00000a1b2c3d": 21.437, "28-...": null }, "errors": { "28-...": "crc" } }
 * A sensor whose reading is rejected is `null` in `sensors` and has its reason in `errors`:
 * crc | power-on (85 °C, no conversion happened) | range (outside -55..125 °C) | no-data (all
 * zero bytes: the data line is shorted or the sensor gone) | format | io:<errno>.
 *
 * The task fails (PINETD_E_SENSOR) when there is no sensor at all or when every sensor failed:
 * a reading with no temperature in it is not a reading, and failing lets the daemon report
 * the task error instead of serving nulls as fresh data. One bad sensor never hides the others.
 *
 * A real read blocks ~750 ms in the kernel (the conversion), so reads go through fs.promises
 * (the libuv threadpool), a few at a time, and never block the event loop.
 */
// node:fs's `promises`, read where used: in the bundle fs/promises then loads at first use, not at start-up (~2 ms).
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { PinetdError } from '../errors.js';
import type { TaskFn } from './types.js';

/** Family code 28 = DS18B20; the rest is the 48-bit serial in hex. */
const SENSOR_DIR = /^28-[0-9a-f]{12}$/i;
/** Leaves one of libuv's 4 default threads free for the rest of the daemon's file I/O. */
const MAX_CONCURRENT_READS = 3;
/** w1 masters default to 64 slaves; more is a broken bus listing, not a config. */
const MAX_SENSORS = 64;
/** w1_slave is two lines of ~40 bytes. */
const MAX_W1_SLAVE_BYTES = 512;

export type W1Result = { ok: true; celsius: number } | { ok: false; reason: 'crc' | 'power-on' | 'range' | 'no-data' | 'format' };

export interface Ds18b20Reading {
  sensors: Record<string, number | null>;
  errors: Record<string, string>;
}

/**
 * Parses the kernel's w1_slave text:
 *   72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
 *   72 01 4b 46 7f ff 0e 10 57 t=23125
 */
export function parseW1Slave(text: string): W1Result {
  const [first = '', second = ''] = text.split('\n').map((l) => l.trim());
  const crc = /^((?:[0-9a-f]{2} ){9}): crc=[0-9a-f]{2} (YES|NO)$/i.exec(first);
  if (!crc) return { ok: false, reason: 'format' };
  if (crc[2]?.toUpperCase() !== 'YES') return { ok: false, reason: 'crc' };
  // Nine zero bytes have a valid CRC (0), so the kernel says YES and t=0: a classic ghost 0 °C.
  if (/^(00 ){9}$/.test(crc[1] ?? '')) return { ok: false, reason: 'no-data' };
  const t = /^(?:[0-9a-f]{2} ){9}t=(-?\d+)$/i.exec(second);
  if (!t) return { ok: false, reason: 'format' };
  const milli = Number(t[1]);
  if (milli === 85_000) return { ok: false, reason: 'power-on' };
  if (milli < -55_000 || milli > 125_000) return { ok: false, reason: 'range' };
  return { ok: true, celsius: milli / 1000 };
}

function sensorError(message: string, cause?: unknown): PinetdError {
  return new PinetdError('PINETD_E_SENSOR', message, cause === undefined ? undefined : { cause });
}

async function readBounded(path: string): Promise<string> {
  const handle = await fsp.open(path, 'r');
  try {
    const buf = Buffer.alloc(MAX_W1_SLAVE_BYTES);
    let used = 0;
    while (used < buf.length) {
      const { bytesRead } = await handle.read(buf, used, buf.length - used, null);
      if (bytesRead === 0) break;
      used += bytesRead;
    }
    return buf.toString('utf8', 0, used);
  } finally {
    await handle.close();
  }
}

export async function readDs18b20(root: string, signal: AbortSignal): Promise<Ds18b20Reading> {
  let ids: string[];
  try {
    ids = (await fsp.readdir(root)).filter((n) => SENSOR_DIR.test(n)).sort().slice(0, MAX_SENSORS);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== 'ENOENT') throw sensorError(`cannot list 1-wire devices in ${root}: ${code ?? String(err)}`, err);
    ids = [];
  }
  if (ids.length === 0) {
    throw sensorError(`no DS18B20 sensors under ${root} (no 28-* devices); enable the bus with dtoverlay=w1-gpio in config.txt and check the wiring`);
  }

  const results = new Map<string, number | string>();
  const queue = [...ids];
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined && !signal.aborted; id = queue.shift()) {
      try {
        const parsed = parseW1Slave(await readBounded(join(root, id, 'w1_slave')));
        results.set(id, parsed.ok ? parsed.celsius : parsed.reason);
      } catch (err) {
        results.set(id, `io:${(err as { code?: string }).code ?? 'error'}`);
      }
    }
  };
  const workers = Array.from({ length: Math.min(MAX_CONCURRENT_READS, ids.length) }, worker);
  // Deliberately not raced against the signal: a kernel read cannot be cancelled, so the task
  // settles only when its reads have. The pause still ends at --task-timeout, and the runner
  // skips later periods until then instead of stacking more blocking reads on libuv's pool.
  await Promise.all(workers);
  signal.throwIfAborted();

  // Built in id order (not completion order) so the READ value is stable from pause to pause.
  const reading: Ds18b20Reading = { sensors: {}, errors: {} };
  for (const id of ids) {
    const result = results.get(id) ?? 'io:error';
    reading.sensors[id] = typeof result === 'number' ? result : null;
    if (typeof result === 'string') reading.errors[id] = result;
  }
  if (Object.keys(reading.errors).length === ids.length) {
    const detail = ids.map((id) => `${id}: ${reading.errors[id]}`).join(', ');
    throw sensorError(`every DS18B20 reading was rejected (${detail})`);
  }
  return reading;
}

const ds18b20: TaskFn = (ctx) => readDs18b20(ctx.config.w1Root, ctx.signal);

export default ds18b20;
