/**
 * BCM pin number → sysfs GPIO number.
 *
 * Since Raspberry Pi OS kernel 6.6 the sysfs numbers are no longer the BCM numbers: each
 * gpiochip gets a dynamic base (512 on a Pi 4, 571 for the RP1 chip on a Pi 5, which sits
 * after four brcmstb chips), and the sysfs number is base + BCM. Older kernels have base 0,
 * so the same lookup keeps working there. We find the SoC's chip by label, never by order.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PinetdError } from '../errors.js';

export const DEFAULT_SYSFS_GPIO_ROOT = '/sys/class/gpio';

/** Labels of the chips that carry the 40-pin header, by SoC (Pi 0-3, Pi 4, Pi 5). */
export const SOC_CHIP_LABELS: readonly string[] = ['pinctrl-bcm2835', 'pinctrl-bcm2711', 'pinctrl-rp1'];

export interface GpioChip {
  readonly label: string;
  /** sysfs number of the chip's line 0 (BCM 0 for the SoC chip). */
  readonly base: number;
  readonly ngpio: number;
}

export interface ResolveGpioChipOptions {
  /** Default /sys/class/gpio; tests point it at a fixture tree. */
  readonly root?: string;
  /** `--gpio-chip LABEL`: use this chip instead of the SoC one. */
  readonly chipLabel?: string | null;
  /** `--gpio-base N`: sysfs number of BCM 0, overriding the label lookup. */
  readonly base?: number | null;
}

/** Every readable `gpiochipN` under root, sorted by base. Unparseable chips are skipped. */
export function listGpioChips(root: string = DEFAULT_SYSFS_GPIO_ROOT): GpioChip[] {
  let names: string[];
  try {
    names = readdirSync(root).filter((n) => /^gpiochip\d+$/.test(n));
  } catch {
    return [];
  }
  const chips: GpioChip[] = [];
  for (const name of names) {
    try {
      const read = (file: string) => readFileSync(join(root, name, file), 'utf8').trim();
      const base = Number(read('base'));
      const ngpio = Number(read('ngpio'));
      if (Number.isInteger(base) && base >= 0 && Number.isInteger(ngpio) && ngpio > 0) {
        chips.push({ label: read('label'), base, ngpio });
      }
    } catch {
      // A chip we cannot read cannot be used either; the lookup below names what it did find.
    }
  }
  return chips.sort((a, b) => a.base - b.base);
}

function describe(chips: readonly GpioChip[]): string {
  return chips.length === 0
    ? 'none'
    : chips.map((c) => `${c.label} (base ${c.base}, ${c.ngpio} lines)`).join(', ');
}

export function resolveGpioChip(options: ResolveGpioChipOptions = {}): GpioChip {
  const root = options.root ?? DEFAULT_SYSFS_GPIO_ROOT;
  const chips = listGpioChips(root);
  const found = `found: ${describe(chips)}`;

  if (chips.length === 0) {
    throw new PinetdError(
      'PINETD_E_GPIO_CHIP',
      `no GPIO chips under ${root} (this kernel has no sysfs GPIO, or this is not a Raspberry Pi); use --gpio mock to run without GPIO`,
    );
  }

  if (options.base !== undefined && options.base !== null) {
    const base = options.base;
    const chip = chips.find((c) => base >= c.base && base < c.base + c.ngpio);
    if (!chip) {
      throw new PinetdError('PINETD_E_GPIO_CHIP', `--gpio-base ${base} is not a line of any GPIO chip under ${root} (${found}); drop --gpio-base to pick the SoC chip by label`);
    }
    if (options.chipLabel && options.chipLabel !== chip.label) {
      throw new PinetdError('PINETD_E_GPIO_CHIP', `--gpio-base ${base} lies in chip ${chip.label}, not --gpio-chip ${options.chipLabel}; give only one of the two`);
    }
    // BCM 0 sits at `base`, so only the lines from there to the chip's end are addressable.
    return { label: chip.label, base, ngpio: chip.base + chip.ngpio - base };
  }

  if (options.chipLabel) {
    const chip = chips.find((c) => c.label === options.chipLabel);
    if (!chip) {
      throw new PinetdError('PINETD_E_GPIO_CHIP', `no GPIO chip labelled ${options.chipLabel} under ${root} (${found}); fix --gpio-chip`);
    }
    return chip;
  }

  const chip = chips.find((c) => SOC_CHIP_LABELS.includes(c.label));
  if (!chip) {
    throw new PinetdError(
      'PINETD_E_GPIO_CHIP',
      `no Raspberry Pi SoC GPIO chip (${SOC_CHIP_LABELS.join(', ')}) under ${root} (${found}); choose one with --gpio-chip LABEL or --gpio-base N`,
    );
  }
  return chip;
}

/** The sysfs number of BCM pin `bcm`; throws PINETD_E_GPIO_PIN for a pin the chip lacks. */
export function toSysfs(chip: GpioChip, bcm: number): number {
  if (!Number.isInteger(bcm) || bcm < 0 || bcm >= chip.ngpio) {
    throw new PinetdError(
      'PINETD_E_GPIO_PIN',
      `BCM pin ${bcm} does not exist on GPIO chip ${chip.label} (it has BCM 0-${chip.ngpio - 1}); fix the pin number in the config`,
    );
  }
  return chip.base + bcm;
}
