/**
 * Pin maps from the config file (`leds`, `inputs`, `outputs`), e.g.
 * `{"door": 4, "button": {"pin": 23, "activeLow": true}}`, and the TaskGpio built from them.
 * Validation errors are PINETD_E_CONFIG and name the offending key (`inputs.door`).
 */
import { PinetdError } from '../errors.js';
import type { GpioBackend, GpioLine, TaskGpio } from './types.js';

/** BCM2711 (Pi 4) has 58 lines, the most of any Pi SoC; the chip's real size is checked at open. */
export const MAX_BCM_PIN = 57;
/** Names become JSON keys in READ values and log fields: keep them short and plain. */
const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
const MAX_PINS_PER_SECTION = 64;

export type PinSection = 'leds' | 'inputs' | 'outputs';
export const LED_ROLES = ['ready', 'activity', 'task', 'error'] as const;

export interface PinSpec {
  readonly name: string;
  readonly pin: number;
  readonly activeLow: boolean;
  /** Inputs only: the Home Assistant device class of its binary_sensor (e.g. `door`). */
  readonly deviceClass?: string;
}

export interface HardwareConfig {
  readonly leds: readonly PinSpec[];
  readonly inputs: readonly PinSpec[];
  readonly outputs: readonly PinSpec[];
}

function configError(message: string): PinetdError {
  return new PinetdError('PINETD_E_CONFIG', message);
}

function parsePin(key: string, raw: unknown): number {
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0 || raw > MAX_BCM_PIN) {
    throw configError(`invalid pin for "${key}": ${JSON.stringify(raw) ?? String(raw)} (expected a BCM GPIO number from 0 to ${MAX_BCM_PIN})`);
  }
  return raw;
}

/** One section (`leds`, `inputs` or `outputs`). Undefined/null means empty. */
export function parsePinMap(section: PinSection, raw: unknown): PinSpec[] {
  if (raw === undefined || raw === null) return [];
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw configError(`"${section}" must be an object of name: pin, e.g. {"door": 4}`);
  }
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length > MAX_PINS_PER_SECTION) throw configError(`"${section}" has ${entries.length} pins (at most ${MAX_PINS_PER_SECTION})`);
  return entries.map(([name, value]) => {
    const key = `${section}.${name}`;
    if (section === 'leds' && !(LED_ROLES as readonly string[]).includes(name)) {
      throw configError(`unknown LED role "${key}" (roles are ${LED_ROLES.join(', ')})`);
    }
    if (!NAME.test(name)) {
      throw configError(`invalid name "${key}" (a letter, then up to 31 letters, digits, - or _)`);
    }
    if (value === null || typeof value !== 'object') return { name, pin: parsePin(key, value), activeLow: false };
    if (Array.isArray(value)) {
      throw configError(`invalid value for "${key}": expected a pin number or {"pin": N, "activeLow": true}`);
    }
    const obj = value as Record<string, unknown>;
    const allowed = section === 'inputs' ? ['pin', 'activeLow', 'deviceClass'] : ['pin', 'activeLow'];
    const extra = Object.keys(obj).filter((k) => !allowed.includes(k));
    if (extra.length > 0) throw configError(`unknown key "${extra[0]}" in "${key}" (allowed: ${allowed.join(', ')})`);
    if (obj.activeLow !== undefined && typeof obj.activeLow !== 'boolean') {
      throw configError(`"${key}.activeLow" must be true or false`);
    }
    if (obj.deviceClass !== undefined && (typeof obj.deviceClass !== 'string' || !/^[a-z_]{1,32}$/.test(obj.deviceClass))) {
      throw configError(`"${key}.deviceClass" must be a Home Assistant device class such as "door" (a-z and _)`);
    }
    const deviceClass = typeof obj.deviceClass === 'string' ? { deviceClass: obj.deviceClass } : {};
    return { name, pin: parsePin(`${key}.pin`, obj.pin), activeLow: obj.activeLow === true, ...deviceClass };
  });
}

/** All three sections, checking that no pin is used twice and no line name is shared by an input and an output. */
export function parseHardwareConfig(config: { readonly leds?: unknown; readonly inputs?: unknown; readonly outputs?: unknown }): HardwareConfig {
  const result = {
    leds: parsePinMap('leds', config.leds),
    inputs: parsePinMap('inputs', config.inputs),
    outputs: parsePinMap('outputs', config.outputs),
  };
  const byPin = new Map<number, string>();
  for (const section of ['leds', 'inputs', 'outputs'] as const) {
    for (const spec of result[section]) {
      const key = `${section}.${spec.name}`;
      const other = byPin.get(spec.pin);
      if (other) throw configError(`BCM pin ${spec.pin} is used twice: "${other}" and "${key}" (each pin can have one use)`);
      byPin.set(spec.pin, key);
    }
  }
  const inputNames = new Set(result.inputs.map((s) => s.name));
  const clash = result.outputs.find((s) => inputNames.has(s.name));
  if (clash) throw configError(`"inputs.${clash.name}" and "outputs.${clash.name}" share a name (tasks address lines by name)`);
  return result;
}

/**
 * Opens every declared line (at startup: the export is synchronous and may be slow). If one
 * fails, the lines opened so far are released before the error propagates.
 */
export function openTaskGpio(backend: GpioBackend, specs: { readonly inputs: readonly PinSpec[]; readonly outputs: readonly PinSpec[] }): TaskGpio {
  const lines = new Map<string, GpioLine>();
  try {
    for (const spec of specs.inputs) lines.set(spec.name, backend.open(spec.pin, 'in', { activeLow: spec.activeLow }));
    for (const spec of specs.outputs) lines.set(spec.name, backend.open(spec.pin, 'out', { activeLow: spec.activeLow }));
  } catch (err) {
    for (const line of lines.values()) line.close();
    throw err;
  }
  return {
    backend: backend.name,
    lines,
    line(name) {
      const line = lines.get(name);
      if (!line) {
        const declared = lines.size > 0 ? [...lines.keys()].join(', ') : 'none';
        throw new PinetdError('PINETD_E_GPIO_PIN', `no GPIO line named "${name}" (declared: ${declared}); declare it under "inputs" or "outputs" in the config`);
      }
      return line;
    },
  };
}
