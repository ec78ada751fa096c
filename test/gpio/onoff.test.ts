/**
 * The onoff backend's error translation and close semantics with an injected Gpio class: the
 * failures here (EINVAL/EBUSY from the kernel, EIO on a value file, a throwing unexport) cannot
 * be produced by a tmpfs, so onoff-sysfs.test.ts cannot reach them.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { PinetdError } from '../../src/errors.js';
import { createOnoffBackend, type OnoffGpio, type OnoffGpioClass } from '../../src/gpio/onoff.js';

const chip = { label: 'pinctrl-rp1', base: 571, ngpio: 54 };

function capture() {
  const lines: { level: number; msg: string; pin?: number }[] = [];
  return { lines, log: pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) }) };
}

function errno(code: string, path = '/sys/class/gpio/export'): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated, write '${path}'`), { code, path, syscall: 'write' });
}

interface Made {
  gpio: number;
  direction: string;
  options: unknown;
  calls: string[];
}

/** Records what the backend asks of onoff; `behave` injects failures. */
function fakeGpio(behave: { ctor?: Error; read?: Error; write?: Error; writeSync?: Error; unexport?: Error } = {}) {
  const made: Made[] = [];
  const Gpio = class implements OnoffGpio {
    readonly rec: Made;
    constructor(gpio: number, direction: string, _edge: undefined, options: unknown) {
      if (behave.ctor) throw behave.ctor;
      this.rec = { gpio, direction, options, calls: [] };
      made.push(this.rec);
    }
    readSync() {
      if (behave.read) throw behave.read;
      return 1 as const;
    }
    writeSync(v: 0 | 1) {
      if (behave.write) throw behave.write;
      if (behave.writeSync) throw behave.writeSync;
      this.rec.calls.push(`write ${v}`);
    }
    unexport() {
      this.rec.calls.push('unexport');
      if (behave.unexport) throw behave.unexport;
    }
  } as unknown as OnoffGpioClass;
  return { Gpio, made };
}

describe('onoff backend: export errors', () => {
  it.each([
    ['EACCES', 'PINETD_E_GPIO_PERMISSION', /no permission to export BCM 17 \(sysfs gpio588\): EACCES on \/sys\/class\/gpio\/export; add the user to the gpio group/],
    ['EPERM', 'PINETD_E_GPIO_PERMISSION', /EPERM.*gpio group/],
    ['EINVAL', 'PINETD_E_GPIO_EXPORT', /cannot export BCM 17 \(sysfs gpio588\): EINVAL: the kernel has no such GPIO line \(chip pinctrl-rp1: sysfs number = base 571 \+ BCM\); check --gpio-chip \/ --gpio-base/],
    ['EBUSY', 'PINETD_E_GPIO_EXPORT', /BCM 17 .*EBUSY: the line is claimed by a kernel driver/],
    ['EIO', 'PINETD_E_GPIO_EXPORT', /cannot export BCM 17 \(sysfs gpio588\): EIO: EIO: simulated/],
  ])('%s from onoff becomes %s, naming the pin and the fix, with the original as cause', (code, expected, message) => {
    const original = errno(code);
    const { Gpio } = fakeGpio({ ctor: original });
    const backend = createOnoffBackend({ chip, log: capture().log, GpioClass: Gpio });
    let thrown: unknown;
    try {
      backend.open(17, 'out');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(PinetdError);
    expect(thrown).toMatchObject({ code: expected, message: expect.stringMatching(message) });
    expect((thrown as Error).cause).toBe(original);
  });

  it('ENOENT on the export file means no sysfs GPIO; on the line files it points at the base', () => {
    const open = (err: Error) => {
      const backend = createOnoffBackend({ chip, log: capture().log, GpioClass: fakeGpio({ ctor: err }).Gpio });
      return () => backend.open(4, 'in');
    };
    expect(open(errno('ENOENT'))).toThrow(/CONFIG_GPIO_SYSFS.*--gpio mock/);
    expect(open(errno('ENOENT', '/sys/class/gpio/gpio575/value'))).toThrow(/did not create the line's files after export \(chip pinctrl-rp1: sysfs number = base 571/);
  });

  it('a pin past the chip is refused before onoff is called', () => {
    const { Gpio, made } = fakeGpio();
    const backend = createOnoffBackend({ chip, log: capture().log, GpioClass: Gpio });
    expect(() => backend.open(54, 'out')).toThrow(expect.objectContaining({ code: 'PINETD_E_GPIO_PIN' }));
    expect(made).toEqual([]);
  });

  it('the same pin cannot be opened twice', () => {
    const backend = createOnoffBackend({ chip, log: capture().log, GpioClass: fakeGpio().Gpio });
    backend.open(17, 'out');
    expect(() => backend.open(17, 'in')).toThrow(/BCM 17 is already open/);
  });
});

describe('onoff backend: lines', () => {
  it('asks onoff for the logical-0 raw level: "low", or "high" for activeLow outputs', () => {
    const { Gpio, made } = fakeGpio();
    const backend = createOnoffBackend({ chip, log: capture().log, GpioClass: Gpio });
    backend.open(17, 'out');
    backend.open(22, 'out', { activeLow: true });
    backend.open(23, 'in', { activeLow: true });
    expect(made.map(({ gpio, direction, options }) => ({ gpio, direction, options }))).toEqual([
      { gpio: 588, direction: 'low', options: { activeLow: false } },
      { gpio: 593, direction: 'high', options: { activeLow: true } },
      { gpio: 594, direction: 'in', options: { activeLow: true } },
    ]);
  });

  it('read/write failures reject with PINETD_E_GPIO_IO and the cause', async () => {
    const eio = errno('EIO', '/sys/class/gpio/gpio588/value');
    const backend = createOnoffBackend({ chip, log: capture().log, GpioClass: fakeGpio({ read: eio, write: eio }).Gpio });
    const line = backend.open(17, 'out');
    await expect(line.write(1)).rejects.toMatchObject({ code: 'PINETD_E_GPIO_IO', message: 'BCM 17: write of sysfs gpio588 failed: EIO', cause: eio });
    await expect(line.read()).rejects.toMatchObject({ code: 'PINETD_E_GPIO_IO', cause: eio });
  });

  it('writing an input line is refused without touching onoff', async () => {
    const { Gpio, made } = fakeGpio();
    const line = createOnoffBackend({ chip, log: capture().log, GpioClass: Gpio }).open(4, 'in');
    await expect(line.write(1)).rejects.toMatchObject({ code: 'PINETD_E_GPIO_IO', message: 'BCM 4: write to an input line' });
    expect(made[0]?.calls).toEqual([]);
  });

  it('close() drives outputs low synchronously, then unexports; twice is once', () => {
    const { Gpio, made } = fakeGpio();
    const backend = createOnoffBackend({ chip, log: capture().log, GpioClass: Gpio });
    backend.open(17, 'out');
    backend.open(4, 'in');
    backend.close();
    backend.close();
    expect(made.map((m) => m.calls)).toEqual([['write 0', 'unexport'], ['unexport']]);
    expect(() => backend.open(5, 'out')).toThrow(expect.objectContaining({ code: 'PINETD_E_GPIO_IO' }));
  });

  it('a failing writeSync or unexport is logged and does not stop the release of other lines', () => {
    const { log, lines } = capture();
    const { Gpio, made } = fakeGpio({ writeSync: errno('EIO'), unexport: errno('EINVAL', '/sys/class/gpio/unexport') });
    const backend = createOnoffBackend({ chip, log, GpioClass: Gpio });
    backend.open(17, 'out');
    backend.open(27, 'out');
    expect(() => backend.close()).not.toThrow();
    expect(made.map((m) => m.calls)).toEqual([['unexport'], ['unexport']]);
    expect(lines.filter((l) => l.level === 40).map((l) => `${l.pin} ${l.msg}`)).toEqual([
      '17 could not drive gpio line low before release',
      '17 could not unexport gpio line',
      '27 could not drive gpio line low before release',
      '27 could not unexport gpio line',
    ]);
  });

  it('a line closed on its own is not closed again by the backend, and refuses I/O', async () => {
    const { Gpio, made } = fakeGpio();
    const backend = createOnoffBackend({ chip, log: capture().log, GpioClass: Gpio });
    const line = backend.open(17, 'out');
    line.close();
    backend.close();
    expect(made[0]?.calls).toEqual(['write 0', 'unexport']);
    await expect(line.write(1)).rejects.toMatchObject({ code: 'PINETD_E_GPIO_IO', message: 'BCM 17: write after close' });
  });
});
