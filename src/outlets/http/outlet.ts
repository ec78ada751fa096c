/**
 * The HTTP outlet (`--http HOST:PORT`): the status page, /api/*, /events, /metrics and
 * /healthz on one node:http listener, bound to the hub like the TCP outlet. The hub's pause
 * holds requests and event pushes; draining turns /healthz 503, sends `shutdown` to every
 * event stream each second and refuses new ones; the listener closes with the other outlets.
 *
 * Loaded by the composition root with import() only when --http is set: off, it costs
 * nothing (no module, no socket, no timer).
 */
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config, HttpAddress } from '../../config/options.js';
import type { Hub } from '../../hub/hub.js';
import { createAllowList } from '../../net/access.js';
import type { Timers } from '../../util/timers.js';
import type { Outlet } from '../outlet.js';
import { EventStreams } from './events.js';
import { PauseGate } from './gate.js';
import { HttpListener, type HttpTimeouts } from './listener.js';
import { Metrics } from './metrics.js';
import { createRoutes } from './routes.js';

export interface HttpOutlet extends Outlet {
  /** Where it listens, once started. */
  readonly address: AddressInfo | undefined;
  /** Requests waiting for the pause to end. */
  readonly held: number;
}

export interface HttpOutletDeps {
  readonly config: Readonly<Config>;
  readonly http: HttpAddress;
  readonly hub: Hub;
  readonly log: Logger;
  readonly timers: Timers;
  /** Tests: shorter limits. */
  readonly timeouts?: HttpTimeouts;
  readonly heartbeatMs?: number;
  readonly maxStreamOutput?: number;
  readonly maxHeld?: number;
}

export function createHttpOutlet(deps: HttpOutletDeps): HttpOutlet {
  const { config, http, hub, log, timers } = deps;
  const gate = new PauseGate(deps.maxHeld);
  const streams = new EventStreams({ hub, log, timers, ...(deps.heartbeatMs ? { heartbeatMs: deps.heartbeatMs } : {}), ...(deps.maxStreamOutput ? { maxOutput: deps.maxStreamOutput } : {}) });
  const metrics = new Metrics({ hub, connections: () => listener.connections, streams: () => streams.size });
  const listener: HttpListener = new HttpListener({
    host: http.host,
    port: http.port,
    maxClients: config.httpMaxClients,
    maxPerAddress: config.maxClientsPerIp,
    allow: createAllowList(config.allow),
    log,
    timers,
    ...(deps.timeouts ? { timeouts: deps.timeouts } : {}),
    handler: createRoutes({ hub, streams, metrics, gate }),
  });

  hub.on('pause', (paused) => {
    if (paused) {
      gate.hold();
      streams.hold();
    } else {
      gate.release();
      streams.release();
    }
  });
  let lastShutdown: number | undefined;
  const shutdown = (remainingS: number): void => {
    if (remainingS === lastShutdown) return;
    lastShutdown = remainingS;
    streams.shutdown(remainingS);
  };
  hub.on('state', (state) => (state === 'draining' ? shutdown(hub.remainingS) : streams.statusChanged()));
  hub.on('countdown', shutdown);
  hub.on('clients', () => streams.statusChanged());
  hub.on('task', (result) => {
    metrics.task(result);
    streams.statusChanged();
  });
  hub.on('reading', (published) => {
    metrics.reading(published.reading.value);
    streams.reading(published);
  });

  let address: AddressInfo | undefined;
  let closed = false;
  const stop = (): Promise<void> => {
    if (!closed) {
      closed = true;
      streams.close();
      gate.clear();
      metrics.close();
    }
    return listener.close();
  };
  return {
    name: 'http',
    get address() {
      return address;
    },
    get held() {
      return gate.waiting;
    },
    async start() {
      address = await listener.listen();
      log.info({ address: address.address, port: address.port }, 'http listening');
    },
    close: stop,
    forceClose: () => void stop(),
  };
}
