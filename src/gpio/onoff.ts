/**
 * GpioBackend over `onoff` (sysfs). Every failure leaves here as a PinetdError naming the BCM
 * pin, the sysfs number and the fix, with the original error as `cause`.
 */
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import type { Direction as OnoffDirection, Options as OnoffOptions } from 'onoff';
import { PinetdError } from '../errors.js';
import { toSysfs, type GpioChip } from './sysfs.js';
import type { Bit, Direction, GpioBackend, GpioLine, LineOptions } from './types.js';

/** The part of onoff's Gpio we use; tests inject a class to reach errors sysfs-on-tmpfs cannot produce. */
export interface OnoffGpio {
  readSync(): 0 | 1;
  writeSync(value: 0 | 1): void;
  unexport(): void;
}
export type OnoffGpioClass = new (gpio: number, direction: OnoffDirection, edge?: undefined, options?: OnoffOptions) => OnoffGpio;
export interface OnoffModule {
  readonly Gpio: OnoffGpioClass & { readonly accessible: boolean };
}

/**
 * onoff loads a native addon (epoll) when required, so it is loaded lazily: a laptop without
 * the addon can still run with the mock backend. Throws the require error.
 */
export function loadOnoff(): OnoffModule {
  return createRequire(import.meta.url)('onoff') as OnoffModule;
}

export interface OnoffBackendOptions {
  readonly chip: GpioChip;
  readonly log: Logger;
  readonly GpioClass?: OnoffGpioClass;
}

function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Maps an error thrown by onoff's constructor (export, permission wait, configure) to a PinetdError. */
export function translateOpenError(err: unknown, pin: number, sysfs: number, chip: GpioChip): PinetdError {
  const code = errnoOf(err) ?? 'error';
  const path = (err as { path?: unknown } | null)?.path;
  const where = `BCM ${pin} (sysfs gpio${sysfs})`;
  const mapping = `chip ${chip.label}: sysfs number = base ${chip.base} + BCM`;
  if (code === 'EACCES' || code === 'EPERM') {
    return new PinetdError(
      'PINETD_E_GPIO_PERMISSION',
      `no permission to export ${where}: ${code}${typeof path === 'string' ? ` on ${path}` : ''}; add the user to the gpio group (sudo usermod -aG gpio <user>, then log in again) or run with --gpio mock`,
      { cause: err },
    );
  }
  const hint: Record<string, string> = {
    EINVAL: `the kernel has no such GPIO line (${mapping}); check --gpio-chip / --gpio-base`,
    EBUSY: 'the line is claimed by a kernel driver or another program (check dtoverlay= lines in config.txt)',
    ENOENT:
      typeof path === 'string' && path.endsWith('/export')
        ? 'the kernel has no sysfs GPIO interface (CONFIG_GPIO_SYSFS); run with --gpio mock'
        : `the kernel did not create the line's files after export (${mapping}); check --gpio-chip / --gpio-base`,
  };
  return new PinetdError('PINETD_E_GPIO_EXPORT', `cannot export ${where}: ${code}: ${hint[code] ?? (err as Error)?.message ?? String(err)}`, { cause: err });
}

function ioError(pin: number, what: string, cause?: unknown): PinetdError {
  return new PinetdError('PINETD_E_GPIO_IO', `BCM ${pin}: ${what}`, cause === undefined ? undefined : { cause });
}

export function createOnoffBackend({ chip, log, GpioClass }: OnoffBackendOptions): GpioBackend {
  let Gpio: OnoffGpioClass;
  try {
    Gpio = GpioClass ?? loadOnoff().Gpio;
  } catch (err) {
    throw new PinetdError('PINETD_E_GPIO_EXPORT', `cannot load the onoff module (${errnoOf(err) ?? String(err)}); reinstall it (npm rebuild onoff) or run with --gpio mock`, { cause: err });
  }
  const lines = new Map<number, GpioLine>();
  let closed = false;

  function open(pin: number, direction: Direction, options: LineOptions = {}): GpioLine {
    if (closed) throw ioError(pin, 'the GPIO backend is closed');
    if (lines.has(pin)) throw new PinetdError('PINETD_E_GPIO_EXPORT', `BCM ${pin} is already open (each pin can be used once)`);
    const sysfs = toSysfs(chip, pin);
    const activeLow = options.activeLow === true;
    // sysfs applies "low"/"out" as the *raw* level: an active-low LED opened as "out" would light
    // up at export. Ask for the raw level that is logical 0 instead.
    const onoffDirection: OnoffDirection = direction === 'in' ? 'in' : activeLow ? 'high' : 'low';
    let gpio: OnoffGpio;
    try {
      // Synchronous, and may spin until udev fixes permissions: acceptable only because lines
      // are opened at startup, before READY (see GpioBackend.open).
      gpio = new Gpio(sysfs, onoffDirection, undefined, { activeLow });
    } catch (err) {
      throw translateOpenError(err, pin, sysfs, chip);
    }
    log.debug({ pin, sysfs, direction, activeLow }, 'gpio line exported');

    let released = false;
    const line: GpioLine = {
      pin,
      direction,
      // Sync on purpose: a sysfs value read/write is a short kernel call (no sensor I/O), while
      // onoff's async variants queue on libuv's 4-thread pool behind ~750 ms DS18B20 reads
      // (delaying the task LED), and an async LED write could land after close()'s final 0.
      async read() {
        if (released) throw ioError(pin, 'read after close');
        try {
          return gpio.readSync() === 1 ? 1 : 0;
        } catch (err) {
          throw ioError(pin, `read of sysfs gpio${sysfs} failed: ${errnoOf(err) ?? String(err)}`, err);
        }
      },
      async write(value: Bit) {
        if (released) throw ioError(pin, 'write after close');
        if (direction !== 'out') throw ioError(pin, 'write to an input line');
        try {
          gpio.writeSync(value);
        } catch (err) {
          throw ioError(pin, `write of sysfs gpio${sysfs} failed: ${errnoOf(err) ?? String(err)}`, err);
        }
      },
      close() {
        // Synchronous throughout: this runs from process 'exit' handlers, where awaits never resume.
        if (released) return;
        released = true;
        lines.delete(pin);
        try {
          if (direction === 'out') gpio.writeSync(0);
        } catch (err) {
          log.warn({ err, pin, sysfs }, 'could not drive gpio line low before release');
        }
        try {
          gpio.unexport();
        } catch (err) {
          log.warn({ err, pin, sysfs }, 'could not unexport gpio line');
        }
      },
    };
    lines.set(pin, line);
    return line;
  }

  return {
    name: 'onoff',
    open,
    close() {
      closed = true;
      for (const line of [...lines.values()]) line.close();
    },
  };
}
