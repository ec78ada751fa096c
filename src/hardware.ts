/**
 * Everything that touches GPIO, set up in one place at startup (before READY: onoff's
 * export is synchronous and may wait for udev) and released in one idempotent, synchronous
 * close() that every exit path calls — including a forced exit and a crash.
 */
import type { Logger } from 'pino';
import type { Config } from './config/options.js';
import { PinetdError } from './errors.js';
import { openTaskGpio, parseHardwareConfig } from './gpio/pins.js';
import { selectGpioBackend } from './gpio/select.js';
import type { GpioBackend, TaskGpio } from './gpio/types.js';
import { createLeds, type Leds } from './outlets/leds/leds.js';

export interface Hardware {
  readonly backend: GpioBackend;
  readonly leds: Leds;
  readonly gpio: TaskGpio;
  /** LEDs off, every line unexported. Idempotent, synchronous. */
  close(): void;
}

/** A module's `export const pins = { relay: { pin: 24, direction: 'out', activeLow: true } }`. */
function splitModulePins(pins: Record<string, unknown> | undefined): { inputs: Record<string, unknown>; outputs: Record<string, unknown> } {
  const inputs: Record<string, unknown> = {};
  const outputs: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(pins ?? {})) {
    const spec = (typeof raw === 'object' && raw !== null ? raw : { pin: raw }) as Record<string, unknown>;
    const { direction = 'in', ...rest } = spec;
    if (direction !== 'in' && direction !== 'out') {
      throw new PinetdError('PINETD_E_CONFIG', `task module pin "${name}": direction ${JSON.stringify(direction)} (expected "in" or "out")`);
    }
    (direction === 'in' ? inputs : outputs)[name] = rest;
  }
  return { inputs, outputs };
}

function merge(section: string, fromConfig: Record<string, unknown>, fromModule: Record<string, unknown>): Record<string, unknown> {
  for (const name of Object.keys(fromModule)) {
    if (name in fromConfig) throw new PinetdError('PINETD_E_CONFIG', `"${section}.${name}" is declared both in the config and by the task module`);
  }
  return { ...fromConfig, ...fromModule };
}

export function setupHardware(config: Config, log: Logger, taskName: string, modulePins?: Record<string, unknown>, injected?: GpioBackend): Hardware {
  const fromModule = splitModulePins(modulePins);
  const specs = parseHardwareConfig({
    leds: config.leds,
    inputs: merge('inputs', config.inputs, fromModule.inputs),
    outputs: merge('outputs', config.outputs, fromModule.outputs),
  });
  if (taskName === 'gpio-inputs' && specs.inputs.length === 0) {
    throw new PinetdError('PINETD_E_CONFIG', 'the gpio-inputs task needs input pins: add "inputs": {"door": 4, ...} to the config file');
  }
  const backend = injected ?? selectGpioBackend({ mode: config.gpio, log, chipLabel: config.gpioChip, base: config.gpioBase });
  let leds: Leds;
  let gpio: TaskGpio;
  try {
    leds = createLeds({ backend, config: specs.leds, log });
    gpio = openTaskGpio(backend, specs);
  } catch (err) {
    backend.close(); // releases every line opened so far, the LEDs' included
    throw err;
  }
  let closed = false;
  return {
    backend,
    leds,
    gpio,
    close() {
      if (closed) return;
      closed = true;
      leds.close(); // timers first, then the LED lines go dark
      backend.close();
    },
  };
}
