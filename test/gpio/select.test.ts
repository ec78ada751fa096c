import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { OnoffGpioClass } from '../../src/gpio/onoff.js';
import { selectGpioBackend } from '../../src/gpio/select.js';

const pi5 = fileURLToPath(new URL('../fixtures/sysfs/pi5', import.meta.url));

function capture() {
  const lines: { level: number; msg: string }[] = [];
  return { lines, log: pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) }) };
}

/** A Gpio class recording the sysfs numbers it was given; `accessible` as onoff computes it. */
function fakeOnoff(accessible: boolean) {
  const exported: number[] = [];
  const Gpio = class {
    static accessible = accessible;
    constructor(n: number) {
      exported.push(n);
    }
    unexport() {}
    writeSync() {}
  } as unknown as OnoffGpioClass & { accessible: boolean };
  return { Gpio, exported };
}

describe('selectGpioBackend', () => {
  it('auto uses onoff where sysfs GPIO is accessible, mapped through the SoC chip', () => {
    const { log, lines } = capture();
    const { Gpio, exported } = fakeOnoff(true);
    const backend = selectGpioBackend({ mode: 'auto', log, root: pi5, GpioClass: Gpio });
    expect(backend.name).toBe('onoff');
    backend.open(17, 'out');
    expect(exported).toEqual([588]);
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
  });

  it('auto falls back to the mock with exactly one warning when GPIO is not accessible', () => {
    const { log, lines } = capture();
    const backend = selectGpioBackend({ mode: 'auto', log, root: pi5, GpioClass: fakeOnoff(false).Gpio });
    expect(backend.name).toBe('mock');
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toBe('GPIO not usable (/sys/class/gpio/export is missing or not writable); using the mock backend: LEDs and inputs are simulated');
  });

  it('auto on a non-Pi machine with writable sysfs GPIO (a root shell on a laptop) falls back to the mock', () => {
    const { log, lines } = capture();
    const other = fileURLToPath(new URL('../fixtures/sysfs/other', import.meta.url));
    expect(selectGpioBackend({ mode: 'auto', log, root: other, GpioClass: fakeOnoff(true).Gpio }).name).toBe('mock');
    expect(lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([expect.stringMatching(/^GPIO not usable \(no Raspberry Pi SoC GPIO chip.*using the mock backend/)]);
  });

  it('auto with an explicit --gpio-chip that does not exist fails instead of silently simulating', () => {
    expect(() => selectGpioBackend({ mode: 'auto', log: capture().log, root: pi5, chipLabel: 'nope', GpioClass: fakeOnoff(true).Gpio })).toThrow(
      expect.objectContaining({ code: 'PINETD_E_GPIO_CHIP' }),
    );
  });

  it('mock is the mock, silently, even where onoff would work', () => {
    const { log, lines } = capture();
    expect(selectGpioBackend({ mode: 'mock', log, GpioClass: fakeOnoff(true).Gpio }).name).toBe('mock');
    expect(lines).toEqual([]);
  });

  it('onoff is honoured even when not accessible, so the open error tells the operator why', () => {
    const backend = selectGpioBackend({ mode: 'onoff', log: capture().log, root: pi5, GpioClass: fakeOnoff(false).Gpio });
    expect(backend.name).toBe('onoff');
  });

  it('onoff with a chip label that does not exist fails at selection', () => {
    expect(() => selectGpioBackend({ mode: 'onoff', log: capture().log, root: pi5, chipLabel: 'nope', GpioClass: fakeOnoff(true).Gpio })).toThrow(
      expect.objectContaining({ code: 'PINETD_E_GPIO_CHIP' }),
    );
  });

  it('--gpio-base reaches the mapping', () => {
    const { Gpio, exported } = fakeOnoff(true);
    selectGpioBackend({ mode: 'onoff', log: capture().log, root: pi5, base: 548, GpioClass: Gpio }).open(3, 'in');
    expect(exported).toEqual([551]);
  });
});
