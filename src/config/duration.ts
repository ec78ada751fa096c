/**
 * Durations as operators write them: `250ms`, `5s`, `2m`, `1h`; a bare number means seconds.
 * Returns milliseconds, or undefined when the text is not a duration (the caller names the option).
 */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/;

/** Upper bound for any duration: Node timers overflow past 2^31-1 ms (~24.8 days). */
export const MAX_DURATION_MS = 2_147_483_647;

export function parseDuration(input: string | number): number | undefined {
  if (typeof input === 'number') {
    return Number.isFinite(input) && input >= 0 ? checkRange(input * 1000) : undefined;
  }
  const match = PATTERN.exec(input.trim());
  if (!match) return undefined;
  const value = Number(match[1]);
  const unit = UNITS[match[2] ?? 's'] ?? 1000;
  return checkRange(value * unit);
}

function checkRange(ms: number): number | undefined {
  const rounded = Math.round(ms);
  // `0.0001` must not silently become 0, which means "disabled" for several options.
  if (rounded === 0 && ms > 0) return undefined;
  return rounded <= MAX_DURATION_MS ? rounded : undefined;
}

/** `1500` → `1.5s`, for messages and STATUS lines a person reads. */
export function formatDuration(ms: number): string {
  if (ms % 1000 !== 0 || ms < 1000) return `${ms}ms`;
  return `${ms / 1000}s`;
}
