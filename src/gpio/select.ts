/**
 * Picks the GPIO backend for `--gpio auto|onoff|mock`. `auto` means: onoff where the sysfs
 * export file is writable and a Pi GPIO chip is found, otherwise the mock, with one warning so
 * the operator knows the LEDs and inputs are simulated.
 */
import { accessSync, constants } from 'node:fs';
import type { Logger } from 'pino';
import { isPinetdError } from '../errors.js';
import { createMockBackend } from './mock.js';
import { createOnoffBackend, loadOnoff, type OnoffGpioClass } from './onoff.js';
import { resolveGpioChip, type GpioChip } from './sysfs.js';
import type { GpioBackend, GpioBackendName } from './types.js';

export type GpioMode = 'auto' | GpioBackendName;

export interface SelectGpioOptions {
  readonly mode: GpioMode;
  readonly log: Logger;
  readonly chipLabel?: string | null;
  readonly base?: number | null;
  /** sysfs GPIO root for the chip lookup (tests); onoff itself always uses /sys/class/gpio. */
  readonly root?: string;
  /** Injected for tests; defaults to onoff's Gpio (and its `accessible`). */
  readonly GpioClass?: OnoffGpioClass & { readonly accessible: boolean };
}

/** Why onoff cannot be used here, or undefined when it can. */
function onoffUnavailable(GpioClass: SelectGpioOptions['GpioClass']): string | undefined {
  let Gpio = GpioClass;
  if (!Gpio) {
    // The same check as onoff's Gpio.accessible, made before loading onoff: where there is no
    // sysfs GPIO (a laptop, a container) the native addon and its thread are never loaded.
    try {
      accessSync('/sys/class/gpio/export', constants.W_OK);
    } catch {
      return '/sys/class/gpio/export is missing or not writable';
    }
    try {
      Gpio = loadOnoff().Gpio;
    } catch (err) {
      return `the onoff module cannot be loaded (${(err as Error).message.split('\n')[0]})`;
    }
  }
  return Gpio.accessible ? undefined : '/sys/class/gpio/export is missing or not writable';
}

function fallBack(log: Logger, why: string): GpioBackend {
  log.warn({ gpio: 'mock' }, `GPIO not usable (${why}); using the mock backend: LEDs and inputs are simulated`);
  return createMockBackend();
}

export function selectGpioBackend(options: SelectGpioOptions): GpioBackend {
  const { mode, log } = options;
  if (mode === 'mock') return createMockBackend();
  if (mode === 'auto') {
    const why = onoffUnavailable(options.GpioClass);
    if (why !== undefined) return fallBack(log, why);
  }
  const explicit = (options.chipLabel ?? null) !== null || (options.base ?? null) !== null;
  let chip: GpioChip;
  try {
    chip = resolveGpioChip({
      ...(options.root !== undefined && { root: options.root }),
      chipLabel: options.chipLabel ?? null,
      base: options.base ?? null,
    });
  } catch (err) {
    // A root shell on a laptop can write /sys/class/gpio/export too: without a Pi chip (and no
    // chip asked for), auto means mock. An explicit --gpio onoff or chip choice must fail loudly.
    if (mode === 'auto' && !explicit && isPinetdError(err, 'PINETD_E_GPIO_CHIP')) return fallBack(log, err.message);
    throw err;
  }
  log.info({ gpio: 'onoff', chip: chip.label, base: chip.base, ngpio: chip.ngpio }, 'GPIO through onoff');
  return createOnoffBackend({ chip, log, ...(options.GpioClass && { GpioClass: options.GpioClass }) });
}
