/**
 * Status LEDs by role: ready (on while serving, 2 Hz blink while draining), activity (short
 * pulse per served request, rate-limited), task (on exactly while a task runs), error (after a
 * failed task or a GPIO fault, until the next good task).
 *
 * LEDs are cosmetic: nothing here throws into the caller after creation. A failing write is
 * logged once per LED. Writes are skipped when the LED already shows the wanted level, so the
 * hot path (activity) costs one comparison when a pulse is already in flight.
 */
import type { Logger } from 'pino';
import { parsePinMap, type PinSpec } from '../../gpio/pins.js';
import type { Bit, GpioBackend, GpioLine } from '../../gpio/types.js';
import { realTimers, type TimerHandle, type Timers } from '../../util/timers.js';

export type LedRole = 'ready' | 'activity' | 'task' | 'error';
export type LedState = 'on' | 'off' | 'blinking';
export type LedSnapshot = Partial<Record<LedRole, LedState>>;

export interface LedsOptions {
  readonly backend: GpioBackend;
  /** The config's `leds` object (`{"ready": 17, "error": {"pin": 5, "activeLow": true}}`) or parsed specs. */
  readonly config: Readonly<Record<string, unknown>> | readonly PinSpec[];
  readonly log: Logger;
  readonly timers?: Timers;
  /** Activity pulse length, at least 30 ms so it is visible. Also the minimum gap between pulses. */
  readonly pulseMs?: number;
}

export interface Leds {
  serving(): void;
  draining(): void;
  activity(): void;
  taskStart(): void;
  taskEnd(ok: boolean): void;
  fault(): void;
  snapshot(): LedSnapshot;
  close(): void;
}

/** Toggle period while draining: 250 ms on, 250 ms off = 2 Hz. */
export const BLINK_TOGGLE_MS = 250;
export const MIN_PULSE_MS = 30;

interface Led {
  readonly role: LedRole;
  readonly line: GpioLine;
  level: Bit;
  failed: boolean;
}

export function createLeds({ backend, config, log, timers = realTimers, pulseMs = 50 }: LedsOptions): Leds {
  const specs = Array.isArray(config) ? (config as readonly PinSpec[]) : parsePinMap('leds', config);
  const pulse = Math.max(MIN_PULSE_MS, pulseMs);
  const leds = new Map<LedRole, Led>();
  try {
    for (const spec of specs) {
      const line = backend.open(spec.pin, 'out', { activeLow: spec.activeLow });
      leds.set(spec.name as LedRole, { role: spec.name as LedRole, line, level: 0, failed: false });
    }
  } catch (err) {
    for (const led of leds.values()) led.line.close();
    throw err;
  }

  let closed = false;
  let blink: TimerHandle | undefined;
  let pulseTimer: TimerHandle | undefined;
  let pulsePhase: 'idle' | 'on' | 'gap' = 'idle';
  let pulsePending = false;

  // LED timers must never keep the daemon alive on their own.
  const unref = (h: TimerHandle) => (h as { unref?: () => void }).unref?.();

  function set(role: LedRole, level: Bit): void {
    const led = leds.get(role);
    if (!led || closed || led.level === level) return;
    led.level = level;
    const onError = (err: unknown) => {
      if (led.failed) return;
      led.failed = true;
      log.warn({ err, led: role, pin: led.line.pin }, `status LED "${role}" write failed; further failures of this LED are not logged`);
      // A failing LED is a GPIO fault: say so on the error LED (if that one still works).
      if (role !== 'error') set('error', 1);
    };
    try {
      led.line.write(level).catch(onError);
    } catch (err) {
      onError(err);
    }
  }

  function stopBlink(): void {
    if (blink === undefined) return;
    timers.clearTimeout(blink);
    blink = undefined;
  }

  function startPulse(): void {
    pulsePhase = 'on';
    pulsePending = false;
    set('activity', 1);
    pulseTimer = timers.setTimeout(() => {
      set('activity', 0);
      pulsePhase = 'gap';
      // The gap keeps a flood visible as blinking (and bounded to 2 writes per 2*pulse) instead of a solid light.
      pulseTimer = timers.setTimeout(() => {
        pulseTimer = undefined;
        pulsePhase = 'idle';
        if (pulsePending) startPulse();
      }, pulse);
      unref(pulseTimer);
    }, pulse);
    unref(pulseTimer);
  }

  return {
    serving() {
      stopBlink();
      set('ready', 1);
    },
    draining() {
      const ready = leds.get('ready');
      if (!ready || closed || blink !== undefined) return;
      const toggle = (): void => {
        set('ready', ready.level === 1 ? 0 : 1);
        blink = timers.setTimeout(toggle, BLINK_TOGGLE_MS);
        unref(blink);
      };
      toggle();
    },
    activity() {
      if (pulsePhase !== 'idle') {
        pulsePending = true;
        return;
      }
      if (!leds.has('activity') || closed) return;
      startPulse();
    },
    taskStart() {
      set('task', 1);
    },
    taskEnd(ok) {
      set('task', 0);
      // Off after the next successful task, whatever lit it (a failed task or a GPIO fault).
      set('error', ok ? 0 : 1);
    },
    fault() {
      set('error', 1);
    },
    snapshot() {
      const out: LedSnapshot = {};
      for (const [role, led] of leds) {
        out[role] = role === 'ready' && blink !== undefined ? 'blinking' : !closed && led.level === 1 ? 'on' : 'off';
      }
      return out;
    },
    close() {
      if (closed) return;
      stopBlink();
      if (pulseTimer !== undefined) timers.clearTimeout(pulseTimer);
      pulseTimer = undefined;
      pulsePhase = 'idle';
      closed = true;
      // GpioLine.close() drives the line to logical 0 synchronously, then releases it.
      for (const led of leds.values()) {
        try {
          led.line.close();
        } catch (err) {
          log.warn({ err, led: led.role }, 'status LED could not be released');
        }
      }
    },
  };
}
