/**
 * The hardware edge. Everything above this file talks to GPIO only through these
 * interfaces; the backends (onoff on a board, mock on a laptop/in tests) implement them
 * (after serialport's binding/MockBinding split).
 */

export type Bit = 0 | 1;
export type Direction = 'in' | 'out';

export interface LineOptions {
  /** Invert the logical value (LED wired to 3V3, button pulling to GND). */
  readonly activeLow?: boolean;
}

/** One exported GPIO line, addressed by its BCM number. */
export interface GpioLine {
  readonly pin: number;
  readonly direction: Direction;
  /** Logical value (activeLow already applied). */
  read(): Promise<Bit>;
  /** Logical value (activeLow already applied). Rejects on an output-less line. */
  write(value: Bit): Promise<void>;
  /** Drives an output low (logical 0) and releases (unexports) the line. Idempotent. */
  close(): void;
}

export type GpioBackendName = 'onoff' | 'mock';

export interface GpioBackend {
  readonly name: GpioBackendName;
  /**
   * Export and configure a line. Synchronous on purpose: onoff's constructor is, and it may
   * spin waiting for udev to fix permissions, so this is only ever called at startup,
   * before READY, never on a hot path. Throws PinetdError (PINETD_E_GPIO_*) naming the pin.
   */
  open(pin: number, direction: Direction, options?: LineOptions): GpioLine;
  /** Release every line this backend opened. Idempotent; safe in exit paths. */
  close(): void;
}

/**
 * What a task sees as `ctx.gpio`: the lines it declared (config `inputs`/`outputs`, or a task
 * module's `export const pins`), already exported at startup so a task never pays onoff's
 * synchronous export cost during a pause.
 */
export interface TaskGpio {
  readonly backend: GpioBackendName;
  readonly lines: ReadonlyMap<string, GpioLine>;
  /** The declared line called `name`; throws PinetdError PINETD_E_GPIO_PIN if undeclared. */
  line(name: string): GpioLine;
}
