import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { listGpioChips, resolveGpioChip, toSysfs } from '../../src/gpio/sysfs.js';

const board = (name: string) => fileURLToPath(new URL(`../fixtures/sysfs/${name}`, import.meta.url));

describe('resolveGpioChip', () => {
  it.each([
    ['pi4', { label: 'pinctrl-bcm2711', base: 512, ngpio: 58 }, 529],
    ['pi5', { label: 'pinctrl-rp1', base: 571, ngpio: 54 }, 588],
    ['legacy', { label: 'pinctrl-bcm2835', base: 0, ngpio: 54 }, 17],
  ])('finds the SoC chip of a %s by label, so BCM 17 is gpio%s', (name, chip, gpio17) => {
    const found = resolveGpioChip({ root: board(name) });
    expect(found).toEqual(chip);
    expect(toSysfs(found, 17)).toBe(gpio17);
  });

  it('never takes the first chip: on a Pi 5 four brcmstb chips come before pinctrl-rp1', () => {
    expect(listGpioChips(board('pi5')).map((c) => c.base)).toEqual([512, 544, 548, 565, 571]);
    expect(resolveGpioChip({ root: board('pi5') }).base).toBe(571);
  });

  it('--gpio-chip picks a chip by its label', () => {
    expect(resolveGpioChip({ root: board('pi4'), chipLabel: 'raspberrypi-exp-gpio' })).toEqual({ label: 'raspberrypi-exp-gpio', base: 570, ngpio: 8 });
  });

  it('--gpio-chip with an unknown label names the labels that exist', () => {
    expect(() => resolveGpioChip({ root: board('pi5'), chipLabel: 'pinctrl-bcm2711' })).toThrow(
      expect.objectContaining({ code: 'PINETD_E_GPIO_CHIP', message: expect.stringMatching(/no GPIO chip labelled pinctrl-bcm2711 .*pinctrl-rp1 \(base 571, 54 lines\).*fix --gpio-chip/) }),
    );
  });

  it('--gpio-base overrides the lookup and limits pins to the rest of that chip', () => {
    const chip = resolveGpioChip({ root: board('pi5'), base: 571 });
    expect(chip).toEqual({ label: 'pinctrl-rp1', base: 571, ngpio: 54 });
    expect(resolveGpioChip({ root: board('legacy'), base: 4 })).toEqual({ label: 'pinctrl-bcm2835', base: 4, ngpio: 50 });
  });

  it('--gpio-base outside every chip fails with the chips found', () => {
    expect(() => resolveGpioChip({ root: board('pi5'), base: 0 })).toThrow(expect.objectContaining({ code: 'PINETD_E_GPIO_CHIP', message: expect.stringContaining('--gpio-base 0 is not a line of any GPIO chip') }));
  });

  it('--gpio-base and a contradicting --gpio-chip are refused', () => {
    expect(() => resolveGpioChip({ root: board('pi4'), base: 512, chipLabel: 'raspberrypi-exp-gpio' })).toThrow(expect.objectContaining({ code: 'PINETD_E_GPIO_CHIP', message: expect.stringContaining('give only one') }));
  });

  it('a board without a Pi SoC chip asks for --gpio-chip or --gpio-base', () => {
    expect(() => resolveGpioChip({ root: board('other') })).toThrow(
      expect.objectContaining({ code: 'PINETD_E_GPIO_CHIP', message: expect.stringMatching(/no Raspberry Pi SoC GPIO chip.*300b000\.pinctrl.*--gpio-chip LABEL or --gpio-base N/) }),
    );
  });

  it('a missing sysfs GPIO directory suggests --gpio mock', () => {
    expect(() => resolveGpioChip({ root: '/nonexistent/gpio' })).toThrow(expect.objectContaining({ code: 'PINETD_E_GPIO_CHIP', message: expect.stringContaining('--gpio mock') }));
  });
});

describe('listGpioChips', () => {
  let dir: string | undefined;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('skips chips it cannot parse instead of guessing', () => {
    dir = mkdtempSync(join(tmpdir(), 'pinetd-sysfs-'));
    const chip = (name: string, files: Record<string, string>) => {
      mkdirSync(join(dir!, name));
      for (const [f, v] of Object.entries(files)) writeFileSync(join(dir!, name, f), v);
    };
    chip('gpiochip0', { label: 'pinctrl-bcm2835\n', base: '0\n', ngpio: '54\n' });
    chip('gpiochip100', { label: 'broken\n', base: 'x\n', ngpio: '4\n' });
    chip('gpiochip200', { label: 'no-ngpio\n', base: '200\n' });
    expect(listGpioChips(dir)).toEqual([{ label: 'pinctrl-bcm2835', base: 0, ngpio: 54 }]);
  });
});

describe('toSysfs', () => {
  const rp1 = { label: 'pinctrl-rp1', base: 571, ngpio: 54 };

  it('adds the chip base to the BCM number', () => {
    expect(toSysfs(rp1, 0)).toBe(571);
    expect(toSysfs(rp1, 53)).toBe(624);
  });

  it.each([54, -1, 1.5])('rejects BCM %s with a message naming the pin and the valid range', (pin) => {
    expect(() => toSysfs(rp1, pin)).toThrow(
      expect.objectContaining({ code: 'PINETD_E_GPIO_PIN', message: `BCM pin ${pin} does not exist on GPIO chip pinctrl-rp1 (it has BCM 0-53); fix the pin number in the config` }),
    );
  });
});
