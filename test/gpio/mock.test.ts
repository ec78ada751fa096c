import { describe, expect, it } from 'vitest';
import { createMockBackend } from '../../src/gpio/mock.js';

describe('mock backend', () => {
  it('records every write with the injected clock, and the close() write', async () => {
    let t = 1000;
    const mock = createMockBackend({ now: () => t });
    const led = mock.open(17, 'out');
    await led.write(1);
    t = 1250;
    await led.write(0);
    t = 1300;
    led.close();
    expect(mock.history(17)).toEqual([
      { t: 1000, value: 1 },
      { t: 1250, value: 0 },
      { t: 1300, value: 0 },
    ]);
  });

  it('inputs read what the test scripted, before or after open', async () => {
    const mock = createMockBackend();
    mock.setInput(4, 1);
    const door = mock.open(4, 'in', { activeLow: true });
    expect(await door.read()).toBe(1);
    mock.setInput(4, 0);
    expect(await door.read()).toBe(0);
    expect(mock.info(4)).toEqual({ direction: 'in', activeLow: true, open: true });
    await expect(door.write(1)).rejects.toMatchObject({ code: 'PINETD_E_GPIO_IO' });
  });

  it('failWrites makes writes reject with PINETD_E_GPIO_IO until healed', async () => {
    const mock = createMockBackend();
    const led = mock.open(5, 'out');
    const cause = new Error('EIO');
    mock.failWrites(5, cause);
    await expect(led.write(1)).rejects.toMatchObject({ code: 'PINETD_E_GPIO_IO', cause });
    expect(mock.history(5)).toEqual([]);
    mock.failWrites(5, false);
    await led.write(1);
    expect(mock.value(5)).toBe(1);
  });

  it('failOpen makes the next open throw the given error, once', () => {
    const mock = createMockBackend();
    const err = new Error('no permission');
    mock.failOpen(6, err);
    expect(() => mock.open(6, 'out')).toThrow(err);
    expect(mock.open(6, 'out').pin).toBe(6);
  });

  it('close() releases every line, is idempotent, and refuses later I/O and opens', async () => {
    const mock = createMockBackend();
    const a = mock.open(17, 'out');
    mock.open(4, 'in');
    await a.write(1);
    mock.close();
    mock.close();
    expect(mock.openPins()).toEqual([]);
    expect(mock.info(17)?.open).toBe(false);
    expect(mock.value(17)).toBe(0);
    expect(mock.history(17).map((w) => w.value)).toEqual([1, 0]);
    await expect(a.write(1)).rejects.toMatchObject({ code: 'PINETD_E_GPIO_IO' });
    expect(() => mock.open(18, 'out')).toThrow(expect.objectContaining({ code: 'PINETD_E_GPIO_IO' }));
  });

  it('an open pin cannot be opened twice; a released one can', () => {
    const mock = createMockBackend();
    const line = mock.open(17, 'out');
    expect(() => mock.open(17, 'out')).toThrow(/already open/);
    line.close();
    expect(mock.open(17, 'in').direction).toBe('in');
  });

  it('keeps history bounded, dropping the oldest writes', async () => {
    let t = 0;
    const mock = createMockBackend({ now: () => t++, maxHistory: 3 });
    const led = mock.open(17, 'out');
    for (let i = 0; i < 10; i++) await led.write((i % 2) as 0 | 1);
    expect(mock.history(17)).toEqual([
      { t: 7, value: 1 },
      { t: 8, value: 0 },
      { t: 9, value: 1 },
    ]);
  });
});
