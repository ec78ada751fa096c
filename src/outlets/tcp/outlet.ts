/**
 * The TCP outlet: the line protocol (or echo) server bound to the hub. The hub's pause holds
 * every connection, draining sends SHUTDOWN, a reading is pushed to subscribers; the server
 * reports requests and client counts back. The protocol answers from the hub's payloads.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../../config/options.js';
import type { Hub } from '../../hub/hub.js';
import { rateLimited } from '../../log/rate-limit.js';
import { createAllowList } from '../../net/access.js';
import type { AccessPolicy } from '../../protocol/access.js';
import type { KvStore } from '../../protocol/store.js';
import type { Timers } from '../../util/timers.js';
import type { Outlet } from '../outlet.js';
import { PinetdServer } from './server.js';

export interface TcpOutlet extends Outlet {
  readonly server: PinetdServer;
  /** Where it listens, once started. */
  readonly address: AddressInfo | undefined;
}

export interface TcpOutletDeps {
  readonly config: Readonly<Config>;
  readonly hub: Hub;
  readonly store: KvStore;
  readonly access: AccessPolicy;
  readonly log: Logger;
  readonly timers: Timers;
  /** Each read, with its time: lets a due pause start at once under load (PauseCycle.checkDue). */
  readonly onRead?: (now: number) => void;
}

export function createTcpOutlet({ config, hub, store, access, log, timers, onRead }: TcpOutletDeps): TcpOutlet {
  if (access.protectWrites) {
    log.warn({ host: config.host }, 'protected mode: listening beyond loopback with neither --allow nor --auth-token-file, so SET and DEL from other hosts are refused (reads stay open); set --allow or --auth-token-file, or --protected-mode off');
  }
  const authFailed = rateLimited(log, 'warn', { timers });
  const server = new PinetdServer({
    host: config.host,
    port: config.port,
    protocol: config.protocol,
    maxClients: config.maxClients,
    backlog: config.backlog,
    maxLine: config.maxLine,
    idleTimeoutMs: config.idleTimeout,
    lineTimeoutMs: config.lineTimeout,
    allow: createAllowList(config.allow),
    maxClientsPerIp: config.maxClientsPerIp,
    commands: {
      store,
      access,
      onAuthFailure: (remote, failures) => authFailed({ remote, failures }, 'authentication failed'),
      status: () => hub.status(),
      readJson: () => hub.readJson(),
      historyJson: (n) => hub.historyJson(n),
    },
    log,
    timers,
    onRequests: (n) => hub.countRequests(n),
    onClientCount: (n) => hub.setClients(n),
    ...(onRead ? { onRead } : {}),
  });
  hub.on('pause', (paused) => (paused ? server.pause() : server.resume()));
  hub.on('state', (state) => state === 'draining' && server.drain());
  hub.on('reading', ({ json }) => server.publish(`READING ${json}\n`));

  let address: AddressInfo | undefined;
  return {
    name: 'tcp',
    server,
    get address() {
      return address;
    },
    async start() {
      const somaxconn = readSomaxconn();
      if (somaxconn !== undefined && config.backlog > somaxconn) {
        log.warn({ backlog: config.backlog, somaxconn }, 'the kernel caps the listen backlog at net.core.somaxconn; raise it (sysctl -w net.core.somaxconn=N) for connection storms');
      }
      address = await server.listen();
    },
    close: () => server.close(),
    forceClose: () => void server.close(),
  };
}

/** net.core.somaxconn, or undefined where /proc does not say (not Linux). */
function readSomaxconn(): number | undefined {
  try {
    const n = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
