/**
 * The LED outlet: the status LEDs follow the hub — ready on once serving and blinking while
 * draining, task on for exactly the pause, error after a failed task, activity on requests.
 * The LED lines themselves belong to the hardware (src/hardware.ts), which releases them.
 */
import type { Hub } from '../../hub/hub.js';
import type { Outlet } from '../outlet.js';
import type { Leds } from './leds.js';

export function createLedOutlet(hub: Hub, leds: Leds): Outlet {
  hub.addSection('leds', () => leds.snapshot());
  let ok = false;
  hub.on('ready', () => leds.serving());
  // Once per answered batch, the hot path: listened to only when there is an activity LED.
  if ('activity' in leds.snapshot()) hub.on('activity', () => leds.activity());
  hub.on('task', (result) => {
    ok = result.ok;
  });
  hub.on('pause', (paused) => {
    if (paused) {
      ok = false;
      leds.taskStart();
    } else leds.taskEnd(ok);
  });
  hub.on('state', (state) => state === 'draining' && leds.draining());
  return { name: 'leds' };
}
