import { describe, expect, it } from 'vitest';
import { PinetdError } from '../../src/errors.js';
import { createMockBackend } from '../../src/gpio/mock.js';
import { openTaskGpio, parseHardwareConfig, parsePinMap } from '../../src/gpio/pins.js';

const configError = (message: string | RegExp) =>
  expect.objectContaining({ code: 'PINETD_E_CONFIG', message: typeof message === 'string' ? message : expect.stringMatching(message) });

describe('parsePinMap', () => {
  it('accepts bare pins and {pin, activeLow}', () => {
    expect(parsePinMap('inputs', { door: 4, button: { pin: 23, activeLow: true }, lid: { pin: 24 } })).toEqual([
      { name: 'door', pin: 4, activeLow: false },
      { name: 'button', pin: 23, activeLow: true },
      { name: 'lid', pin: 24, activeLow: false },
    ]);
  });

  it('treats a missing section as empty', () => {
    expect(parsePinMap('outputs', undefined)).toEqual([]);
  });

  it.each([
    [{ door: 58 }, 'invalid pin for "inputs.door": 58 (expected a BCM GPIO number from 0 to 57)'],
    [{ door: -1 }, 'invalid pin for "inputs.door": -1 (expected a BCM GPIO number from 0 to 57)'],
    [{ door: '4' }, 'invalid pin for "inputs.door": "4" (expected a BCM GPIO number from 0 to 57)'],
    [{ door: 4.5 }, 'invalid pin for "inputs.door": 4.5 (expected a BCM GPIO number from 0 to 57)'],
    [{ door: { activeLow: true } }, 'invalid pin for "inputs.door.pin": undefined (expected a BCM GPIO number from 0 to 57)'],
    [{ door: { pin: 4, activeLow: 'yes' } }, '"inputs.door.activeLow" must be true or false'],
    [{ door: { pin: 4, pull: 'up' } }, 'unknown key "pull" in "inputs.door" (allowed: pin, activeLow, deviceClass)'],
    [{ door: { pin: 4, deviceClass: 'Door!' } }, '"inputs.door.deviceClass" must be a Home Assistant device class such as "door" (a-z and _)'],
    [{ door: [4] }, 'invalid value for "inputs.door": expected a pin number or {"pin": N, "activeLow": true}'],
    [{ 'front door': 4 }, 'invalid name "inputs.front door" (a letter, then up to 31 letters, digits, - or _)'],
    [[4], '"inputs" must be an object of name: pin, e.g. {"door": 4}'],
  ])('rejects %j naming the key', (raw, message) => {
    expect(() => parsePinMap('inputs', raw)).toThrow(configError(message));
  });

  it('keeps an input\'s Home Assistant device class, and refuses one on an output', () => {
    expect(parsePinMap('inputs', { door: { pin: 4, deviceClass: 'door' } })).toEqual([{ name: 'door', pin: 4, activeLow: false, deviceClass: 'door' }]);
    expect(() => parsePinMap('outputs', { relay: { pin: 24, deviceClass: 'door' } })).toThrow(configError('unknown key "deviceClass" in "outputs.relay" (allowed: pin, activeLow)'));
  });

  it('accepts only the four LED roles', () => {
    expect(parsePinMap('leds', { ready: 17, activity: 27, task: 22, error: 5 })).toHaveLength(4);
    expect(() => parsePinMap('leds', { power: 17 })).toThrow(configError('unknown LED role "leds.power" (roles are ready, activity, task, error)'));
  });

  it('bounds the number of pins', () => {
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`p${i}`, i % 58]));
    expect(() => parsePinMap('outputs', many)).toThrow(configError(/has 65 pins \(at most 64\)/));
  });
});

describe('parseHardwareConfig', () => {
  it('parses all three sections', () => {
    const hw = parseHardwareConfig({ leds: { ready: 17 }, inputs: { door: 4 }, outputs: { relay: { pin: 26, activeLow: true } } });
    expect(hw).toEqual({
      leds: [{ name: 'ready', pin: 17, activeLow: false }],
      inputs: [{ name: 'door', pin: 4, activeLow: false }],
      outputs: [{ name: 'relay', pin: 26, activeLow: true }],
    });
  });

  it('refuses the same pin in two places, naming both keys', () => {
    expect(() => parseHardwareConfig({ leds: { ready: 17 }, inputs: { door: { pin: 17 } } })).toThrow(
      configError('BCM pin 17 is used twice: "leds.ready" and "inputs.door" (each pin can have one use)'),
    );
    expect(() => parseHardwareConfig({ inputs: { a: 4 }, outputs: { b: 4 } })).toThrow(configError(/"inputs.a" and "outputs.b"/));
  });

  it('refuses an input and an output with the same name', () => {
    expect(() => parseHardwareConfig({ inputs: { door: 4 }, outputs: { door: 5 } })).toThrow(configError(/"inputs.door" and "outputs.door" share a name/));
  });
});

describe('openTaskGpio', () => {
  it('opens inputs and outputs at once and hands them out by name', async () => {
    const mock = createMockBackend();
    mock.setInput(4, 1);
    const hw = parseHardwareConfig({ inputs: { door: 4, button: { pin: 23, activeLow: true } }, outputs: { relay: 26 } });
    const gpio = openTaskGpio(mock, hw);
    expect(gpio.backend).toBe('mock');
    expect([...gpio.lines.keys()]).toEqual(['door', 'button', 'relay']);
    expect(mock.openPins().sort()).toEqual([23, 26, 4]);
    expect(mock.info(23)).toEqual({ direction: 'in', activeLow: true, open: true });
    expect(await gpio.line('door').read()).toBe(1);
    await gpio.line('relay').write(1);
    expect(mock.value(26)).toBe(1);
  });

  it('line() of an undeclared name says what is declared and where to declare it', () => {
    const gpio = openTaskGpio(createMockBackend(), parseHardwareConfig({ inputs: { door: 4 } }));
    let err: unknown;
    try {
      gpio.line('window');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PinetdError);
    expect(err).toMatchObject({ code: 'PINETD_E_GPIO_PIN', message: 'no GPIO line named "window" (declared: door); declare it under "inputs" or "outputs" in the config' });
  });

  it('releases the lines already opened when a later one fails', () => {
    const mock = createMockBackend();
    const denied = new PinetdError('PINETD_E_GPIO_PERMISSION', 'no permission');
    mock.failOpen(26, denied);
    expect(() => openTaskGpio(mock, parseHardwareConfig({ inputs: { door: 4 }, outputs: { relay: 26 } }))).toThrow(denied);
    expect(mock.openPins()).toEqual([]);
    expect(mock.info(4)?.open).toBe(false);
  });
});
