import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createMockBackend } from '../../src/gpio/mock.js';
import { openTaskGpio, parseHardwareConfig } from '../../src/gpio/pins.js';
import type { GpioLine, TaskGpio } from '../../src/gpio/types.js';
import { DEFAULTS } from '../../src/config/options.js';
import gpioInputs from '../../src/tasks/gpio-inputs.js';
import type { TaskContext } from '../../src/tasks/types.js';

const log = pino({ level: 'silent' });
const ctx = (gpio: TaskGpio | undefined, signal = new AbortController().signal): TaskContext => ({ log, signal, config: DEFAULTS, ...(gpio && { gpio }) });

function lineThat(read: () => Promise<0 | 1>): GpioLine {
  return { pin: 4, direction: 'in', read, write: () => Promise.resolve(), close: () => {} };
}
const gpioOf = (lines: Record<string, GpioLine>): TaskGpio => ({
  backend: 'mock',
  lines: new Map(Object.entries(lines)),
  line: (n) => lines[n] as GpioLine,
});

describe('gpio-inputs task', () => {
  it('returns the level of every declared input by name, and only inputs', async () => {
    const mock = createMockBackend();
    mock.setInput(4, 1);
    mock.setInput(23, 0);
    const gpio = openTaskGpio(mock, parseHardwareConfig({ inputs: { door: 4, button: { pin: 23, activeLow: true } }, outputs: { relay: 26 } }));
    expect(await gpioInputs(ctx(gpio))).toEqual({ door: 1, button: 0 });
    mock.setInput(4, 0);
    mock.setInput(23, 1);
    expect(await gpioInputs(ctx(gpio))).toEqual({ door: 0, button: 1 });
  });

  it('without inputs it fails with the config to add', async () => {
    const message = 'the gpio-inputs task has no input lines: declare them in the config, e.g. "inputs": {"door": 4}';
    await expect(gpioInputs(ctx(undefined))).rejects.toMatchObject({ code: 'PINETD_E_CONFIG', message });
    const outputsOnly = openTaskGpio(createMockBackend(), parseHardwareConfig({ outputs: { relay: 26 } }));
    await expect(gpioInputs(ctx(outputsOnly))).rejects.toMatchObject({ code: 'PINETD_E_CONFIG' });
  });

  it('a failing read fails the task with the GPIO error', async () => {
    const eio = Object.assign(new Error('BCM 4: read failed'), { code: 'PINETD_E_GPIO_IO' });
    await expect(gpioInputs(ctx(gpioOf({ door: lineThat(() => Promise.reject(eio)) })))).rejects.toBe(eio);
  });

  it('stops waiting as soon as the signal fires, with its reason', async () => {
    const ac = new AbortController();
    const never = lineThat(() => new Promise(() => {}));
    const run = gpioInputs(ctx(gpioOf({ door: never }), ac.signal));
    const reason = new Error('task timeout');
    ac.abort(reason);
    await expect(run).rejects.toBe(reason);
  });

  it('does not start reading when the signal already fired', async () => {
    let reads = 0;
    const line = lineThat(() => {
      reads++;
      return Promise.resolve(1);
    });
    const signal = AbortSignal.abort(new Error('gone'));
    await expect(gpioInputs(ctx(gpioOf({ door: line }), signal))).rejects.toThrow('gone');
    expect(reads).toBe(0);
  });
});
