/**
 * Built-in task `board`: the SoC/CPU temperature and the load average, so `npm start` shows
 * real data on a Pi and on a laptop. Missing values are null, never an error: a container
 * or VM may have no thermal zones at all.
 */
// node:fs's `promises`, read where used: in the bundle fs/promises then loads at first use, not at start-up (~2 ms).
import { promises as fsp } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { TaskContext } from './types.js';

export interface BoardReading {
  /** The SoC/CPU zone in °C (`cpu-thermal` on a Pi, `x86_pkg_temp` on Intel), else the first zone. */
  socTempC: number | null;
  /** Every readable thermal zone by its type, °C. */
  zones: Record<string, number>;
  loadAvg: [number, number, number] | null;
}

const SOC_ZONE = /cpu|soc|x86_pkg_temp|k10temp|coretemp/i;
const MAX_ZONES = 32;

export async function readBoard(thermalRoot = '/sys/class/thermal', signal?: AbortSignal): Promise<BoardReading> {
  const zones: Record<string, number> = {};
  let soc: number | null = null;
  let first: number | null = null;
  let names: string[] = [];
  try {
    names = (await fsp.readdir(thermalRoot)).filter((n) => n.startsWith('thermal_zone')).sort((a, b) => zoneIndex(a) - zoneIndex(b)).slice(0, MAX_ZONES);
  } catch {
    // no thermal class: leave everything null
  }
  for (const name of names) {
    signal?.throwIfAborted();
    const [temp, type] = await Promise.all([readText(join(thermalRoot, name, 'temp'), signal), readText(join(thermalRoot, name, 'type'), signal)]);
    const milli = temp === undefined ? NaN : Number.parseInt(temp, 10);
    if (!Number.isFinite(milli)) continue;
    const celsius = Math.round(milli / 100) / 10;
    const label = type || name;
    zones[zones[label] === undefined ? label : `${label}:${name}`] = celsius;
    first ??= celsius;
    if (soc === null && SOC_ZONE.test(label)) soc = celsius;
  }
  const avg = loadavg();
  return {
    socTempC: soc ?? first,
    zones,
    loadAvg: process.platform === 'win32' ? null : [round2(avg[0] ?? 0), round2(avg[1] ?? 0), round2(avg[2] ?? 0)],
  };
}

export default async function board(ctx: TaskContext): Promise<BoardReading> {
  return readBoard('/sys/class/thermal', ctx.signal);
}

async function readText(path: string, signal?: AbortSignal): Promise<string | undefined> {
  try {
    return (await fsp.readFile(path, { encoding: 'utf8', ...(signal ? { signal } : {}) })).trim();
  } catch {
    return undefined;
  }
}

function zoneIndex(name: string): number {
  return Number.parseInt(name.slice('thermal_zone'.length), 10) || 0;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
