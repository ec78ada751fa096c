/**
 * The systemd outlet: READY once every outlet has started, STATUS in words as the hub's
 * state changes, STOPPING at the first shutdown signal. The notifier (notify.ts) owns the
 * sd_notify traffic and the watchdog.
 */
import type { Hub } from '../../hub/hub.js';
import type { Outlet } from '../outlet.js';
import type { Notifier } from './notify.js';

/** What `systemctl status` shows. */
export function statusText(hub: Hub): string {
  switch (hub.state) {
    case 'draining':
      return `shutting down in ${hub.remainingS} s`;
    case 'paused':
      return `paused: running ${hub.info.task}`;
    default:
      return `serving ${hub.clients} client${hub.clients === 1 ? '' : 's'}`;
  }
}

export function createSystemdOutlet(hub: Hub, notifier: Notifier): Outlet {
  const update = (): void => notifier.status(statusText(hub));
  hub.on('ready', () => notifier.ready(statusText(hub)));
  hub.on('state', (state) => (state === 'draining' ? notifier.stopping(statusText(hub)) : update()));
  hub.on('clients', update);
  hub.on('countdown', update);
  return {
    name: 'systemd',
    close: async () => notifier.close(),
    forceClose: () => notifier.close(),
  };
}
