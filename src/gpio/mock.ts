/**
 * In-memory GpioBackend for laptops and tests. Values are logical (activeLow is recorded, not
 * applied). Writes are recorded synchronously with `now()` so fake-timer tests can read exact
 * timestamps; inputs are scripted with setInput(); writes can be made to fail.
 */
import { PinetdError } from '../errors.js';
import type { Bit, Direction, GpioBackend, GpioLine, LineOptions } from './types.js';

export interface MockWrite {
  readonly t: number;
  readonly value: Bit;
}

export interface MockLineInfo {
  readonly direction: Direction;
  readonly activeLow: boolean;
  /** Open now; false once the line (or the backend) was closed. */
  readonly open: boolean;
}

export interface MockBackend extends GpioBackend {
  readonly name: 'mock';
  /** Script the level an input line reads (allowed before the line is opened). */
  setInput(pin: number, value: Bit): void;
  /** Writes to `pin` in order, oldest first (bounded by maxHistory). Includes the write close() does. */
  history(pin: number): readonly MockWrite[];
  /** Current logical level of the pin: the last write for outputs, the scripted value for inputs. */
  value(pin: number): Bit | undefined;
  /** How the pin was last opened, or undefined if it never was. */
  info(pin: number): MockLineInfo | undefined;
  /** Pins that are open now. */
  openPins(): number[];
  /** Make writes to `pin` reject with PINETD_E_GPIO_IO (cause: `error`); `false` heals the pin. */
  failWrites(pin: number, error?: Error | false): void;
  /** Make the next open() of `pin` throw `error` (e.g. a PinetdError PINETD_E_GPIO_PERMISSION). */
  failOpen(pin: number, error: Error): void;
}

export interface MockBackendOptions {
  readonly now?: () => number;
  /** Per-pin history bound; the oldest entries are dropped. */
  readonly maxHistory?: number;
}

interface PinState {
  direction: Direction;
  activeLow: boolean;
  open: boolean;
  value: Bit;
  writes: MockWrite[];
}

export function createMockBackend({ now = Date.now, maxHistory = 10_000 }: MockBackendOptions = {}): MockBackend {
  const pins = new Map<number, PinState>();
  const inputs = new Map<number, Bit>();
  const writeFailures = new Map<number, Error>();
  const openFailures = new Map<number, Error>();
  let closed = false;

  function record(state: PinState, value: Bit): void {
    state.value = value;
    state.writes.push({ t: now(), value });
    if (state.writes.length > maxHistory) state.writes.splice(0, state.writes.length - maxHistory);
  }

  function open(pin: number, direction: Direction, options: LineOptions = {}): GpioLine {
    if (closed) throw new PinetdError('PINETD_E_GPIO_IO', `BCM ${pin}: the GPIO backend is closed`);
    const failure = openFailures.get(pin);
    if (failure) {
      openFailures.delete(pin);
      throw failure;
    }
    if (pins.get(pin)?.open) throw new PinetdError('PINETD_E_GPIO_EXPORT', `BCM ${pin} is already open (each pin can be used once)`);
    const state: PinState = {
      direction,
      activeLow: options.activeLow === true,
      open: true,
      value: direction === 'in' ? inputs.get(pin) ?? 0 : 0,
      writes: pins.get(pin)?.writes ?? [],
    };
    pins.set(pin, state);
    const ioError = (what: string, cause?: Error) =>
      new PinetdError('PINETD_E_GPIO_IO', `BCM ${pin}: ${what}`, cause ? { cause } : undefined);

    return {
      pin,
      direction,
      read() {
        if (!state.open) return Promise.reject(ioError('read after close'));
        return Promise.resolve(direction === 'in' ? inputs.get(pin) ?? 0 : state.value);
      },
      write(value: Bit) {
        if (!state.open) return Promise.reject(ioError('write after close'));
        if (direction !== 'out') return Promise.reject(ioError('write to an input line'));
        const err = writeFailures.get(pin);
        if (err) return Promise.reject(ioError(`write failed: ${err.message}`, err));
        record(state, value);
        return Promise.resolve();
      },
      close() {
        if (!state.open) return;
        state.open = false;
        // Like onoff: drive the output to logical 0 before release, unless writes are failing.
        if (direction === 'out' && !writeFailures.has(pin)) record(state, 0);
      },
    };
  }

  // Lines are closed through their own close() so both paths behave the same.
  const handles = new Map<number, GpioLine>();

  return {
    name: 'mock',
    open(pin, direction, options) {
      const line = open(pin, direction, options);
      handles.set(pin, line);
      return line;
    },
    close() {
      closed = true;
      for (const line of handles.values()) line.close();
      handles.clear();
    },
    setInput(pin, value) {
      inputs.set(pin, value);
      const state = pins.get(pin);
      if (state?.direction === 'in') state.value = value;
    },
    history: (pin) => pins.get(pin)?.writes ?? [],
    value: (pin) => pins.get(pin)?.value,
    info(pin) {
      const s = pins.get(pin);
      return s && { direction: s.direction, activeLow: s.activeLow, open: s.open };
    },
    openPins: () => [...pins].filter(([, s]) => s.open).map(([pin]) => pin),
    failWrites(pin, error = new Error('simulated write failure')) {
      if (error === false) writeFailures.delete(pin);
      else writeFailures.set(pin, error);
    },
    failOpen(pin, error) {
      openFailures.set(pin, error);
    },
  };
}
