/**
 * Home Assistant MQTT discovery: which entities this board has, and each one's retained
 * config message. Every entity reads the one state topic (`<prefix>/reading`, the READ
 * payload) through a `value_template`, and shares the availability topic and device block.
 *
 * Entities: `board` → SoC temperature and 1-minute load; `ds18b20` → one sensor per sensor
 * id seen (new ids are reported by observe()); `gpio-inputs` → one binary_sensor per input;
 * a task module → its `export const entities`. Bounded: at most MAX_ENTITIES.
 */
import { PinetdError } from '../../errors.js';
import type { PinSpec } from '../../gpio/pins.js';
import type { Component, Topics } from './topics.js';

export const MAX_ENTITIES = 128;
const MAX_MODULE_ENTITIES = 64;
const KEY = /^[A-Za-z_][A-Za-z0-9_]{0,31}$/;
const DEVICE_CLASS = /^[a-z_]{1,32}$/;
const SENSOR_ID = /^28-[0-9a-f]{12}$/i;

export interface Entity {
  readonly component: Component;
  /** Unique within the device: becomes `<device-id>_<object>`. */
  readonly object: string;
  readonly name: string;
  readonly valueTemplate: string;
  readonly deviceClass?: string;
  readonly unit?: string;
  readonly measurement: boolean;
}

export interface DeviceFacts {
  readonly deviceId: string;
  readonly version: string;
}

/** Validates a task module's `entities` export; a bad one stops startup (exit 78). */
export function moduleEntities(raw: unknown): Entity[] {
  if (raw === undefined) return [];
  const bad = (why: string): PinetdError => new PinetdError('PINETD_E_TASK_LOAD', `the task module's \`entities\` export ${why} (expected [{ key, name, unit?, deviceClass? }], at most ${MAX_MODULE_ENTITIES})`);
  if (!Array.isArray(raw) || raw.length > MAX_MODULE_ENTITIES) throw bad('is not an array of entities');
  const seen = new Set<string>();
  return raw.map((e: unknown, i): Entity => {
    if (e === null || typeof e !== 'object') throw bad(`has a non-object at [${i}]`);
    const { key, name, unit, deviceClass } = e as Record<string, unknown>;
    if (typeof key !== 'string' || !KEY.test(key)) throw bad(`[${i}].key must be a value field name (a letter or _, then letters, digits, _)`);
    if (seen.has(key)) throw bad(`repeats the key "${key}"`);
    seen.add(key);
    if (typeof name !== 'string' || name.length === 0 || name.length > 64) throw bad(`[${i}].name must be a string of 1-64 characters`);
    if (unit !== undefined && (typeof unit !== 'string' || unit.length > 16)) throw bad(`[${i}].unit must be a string of at most 16 characters`);
    if (deviceClass !== undefined && (typeof deviceClass !== 'string' || !DEVICE_CLASS.test(deviceClass))) throw bad(`[${i}].deviceClass must be a device class such as "temperature"`);
    return {
      component: 'sensor',
      object: key,
      name,
      valueTemplate: `{{ value_json.value.${key} }}`,
      ...(unit !== undefined ? { unit } : {}),
      ...(deviceClass !== undefined ? { deviceClass } : {}),
      measurement: unit !== undefined,
    };
  });
}

/** The entities known at startup, before any reading. */
export function initialEntities(task: string, inputs: readonly PinSpec[], fromModule: readonly Entity[]): Entity[] {
  switch (task) {
    case 'board':
      return [
        { component: 'sensor', object: 'soc_temp', name: 'SoC temperature', valueTemplate: '{{ value_json.value.socTempC }}', deviceClass: 'temperature', unit: '°C', measurement: true },
        { component: 'sensor', object: 'load_1m', name: 'Load (1 min)', valueTemplate: '{{ value_json.value.loadAvg[0] }}', measurement: true },
      ];
    case 'gpio-inputs':
      return inputs.map((input) => ({
        component: 'binary_sensor',
        object: `input_${input.name}`,
        name: input.name,
        valueTemplate: `{{ value_json.value['${input.name}'] }}`,
        ...(input.deviceClass !== undefined ? { deviceClass: input.deviceClass } : {}),
        measurement: false,
      }));
    case 'ds18b20':
      return [];
    default:
      return [...fromModule];
  }
}

function ds18b20Entity(id: string): Entity {
  return { component: 'sensor', object: `ds18b20_${id}`, name: `Temperature ${id}`, valueTemplate: `{{ value_json.value.sensors['${id}'] }}`, deviceClass: 'temperature', unit: '°C', measurement: true };
}

/** The entity set of one device: grows when a new ds18b20 sensor id appears, never past MAX_ENTITIES. */
export class EntitySet {
  readonly #entities = new Map<string, Entity>();
  readonly #task: string;

  constructor(task: string, initial: readonly Entity[]) {
    this.#task = task;
    for (const e of initial.slice(0, MAX_ENTITIES)) this.#entities.set(e.object, e);
  }

  all(): Entity[] {
    return [...this.#entities.values()];
  }

  /** Entities that this reading's value reveals for the first time (ds18b20 sensor ids). */
  observe(value: unknown): Entity[] {
    if (this.#task !== 'ds18b20' || value === null || typeof value !== 'object') return [];
    const sensors = (value as { sensors?: unknown }).sensors;
    if (sensors === null || typeof sensors !== 'object') return [];
    const added: Entity[] = [];
    for (const id of Object.keys(sensors)) {
      if (!SENSOR_ID.test(id) || this.#entities.has(`ds18b20_${id}`) || this.#entities.size >= MAX_ENTITIES) continue;
      const entity = ds18b20Entity(id);
      this.#entities.set(entity.object, entity);
      added.push(entity);
    }
    return added;
  }
}

/** One entity's retained config message. */
export function configMessage(entity: Entity, topics: Topics, device: DeviceFacts): { topic: string; payload: string } {
  const objectId = `${device.deviceId}_${entity.object}`;
  const config = {
    name: entity.name,
    unique_id: `pinetd_${objectId}`,
    object_id: objectId,
    state_topic: topics.reading,
    value_template: entity.valueTemplate,
    availability_topic: topics.status,
    payload_available: 'online',
    payload_not_available: 'offline',
    ...(entity.component === 'binary_sensor' ? { payload_on: '1', payload_off: '0' } : {}),
    ...(entity.deviceClass !== undefined ? { device_class: entity.deviceClass } : {}),
    ...(entity.unit !== undefined ? { unit_of_measurement: entity.unit } : {}),
    ...(entity.measurement ? { state_class: 'measurement' } : {}),
    device: { identifiers: [`pinetd_${device.deviceId}`], name: device.deviceId, model: 'pinetd', sw_version: device.version },
  };
  return { topic: topics.config(entity.component, objectId), payload: JSON.stringify(config) };
}
