/**
 * The composition root: builds each part from the config and wires their events together.
 * No logic of its own beyond the wiring; each concern lives in its module.
 */
import type { Logger } from 'pino';
import type { Config } from './config/options.js';
import { PauseCycle } from './cycle/pause-cycle.js';
import { KvStore } from './protocol/store.js';
import type { CommandHost } from './protocol/commands.js';
import { PinetdServer } from './server/server.js';
import { Shutdown } from './shutdown/shutdown.js';
import { loadTask } from './tasks/load.js';
import { TaskRunner, type TaskResult } from './tasks/runner.js';
import { realTimers, type Timers } from './util/timers.js';

export interface DaemonDeps {
  readonly config: Config;
  readonly log: Logger;
  readonly version: string;
  /** Leaves the process (main.ts: process.exit). */
  readonly exit: (code: number) => void;
  readonly timers?: Timers;
}

export interface Daemon {
  readonly port: number;
  readonly shutdown: Shutdown;
}

export async function startDaemon({ config, log, version, exit, timers = realTimers }: DaemonDeps): Promise<Daemon> {
  const task = await loadTask(config.task);
  const startedAt = timers.now();
  const store = new KvStore();
  let requests = 0;
  let lastTask: TaskResult | undefined;
  let lastReading: TaskResult | undefined;

  const runner = new TaskRunner({ task: task.fn, name: task.name, timeoutMs: config.taskTimeout, log, timers, config: config as unknown as Record<string, unknown> });

  const commands: CommandHost = {
    store,
    status: () => ({
      state: shutdown.state !== 'serving' ? 'draining' : cycle.active ? 'paused' : 'serving',
      uptimeMs: Math.round(timers.now() - startedAt),
      clients: server.clients,
      requests,
      pauses: cycle.pauses,
      skippedPauses: cycle.skipped,
      lastTask: lastTask ? { ok: lastTask.ok, durationMs: lastTask.durationMs, at: lastTask.at, ...(lastTask.error ? { error: lastTask.error } : {}) } : null,
      task: task.name,
      protocol: config.protocol,
      version,
      pid: process.pid,
      node: process.version,
      arch: process.arch,
    }),
    reading: () => (lastReading ? { at: lastReading.at, ok: true, durationMs: lastReading.durationMs, value: lastReading.value } : null),
  };

  const server = new PinetdServer({
    host: config.host,
    port: config.port,
    protocol: config.protocol,
    maxClients: config.maxClients,
    maxLine: config.maxLine,
    idleTimeoutMs: config.idleTimeout,
    commands,
    log,
    onRequests: (n) => {
      requests += n;
    },
    onClientCount: () => shutdown.clientsChanged(),
  });

  const cycle = new PauseCycle({
    periodMs: config.pauseEvery,
    log,
    timers,
    busy: () => runner.busy,
    pause: async () => {
      const started = timers.now();
      server.pause();
      log.info({ task: task.name }, 'paused');
      const result = await runner.run();
      lastTask = result;
      if (result.ok) lastReading = result;
      server.resume();
      log.info({ durationMs: Math.round(timers.now() - started), ok: result.ok }, 'resumed');
      if (result.ok) server.publish(`READING ${JSON.stringify(commands.reading())}\n`);
    },
  });

  const shutdown = new Shutdown({
    graceMs: config.shutdownGrace,
    log,
    timers,
    clients: () => server.clients,
    hooks: {
      drain: () => {
        void cycle.stop();
        server.drain();
      },
      tick: () => {},
      settle: () => cycle.stop(),
      close: () => server.close(),
      forceClose: () => {
        runner.abort();
        void server.close();
      },
      exit,
    },
  });

  const address = await server.listen();
  shutdown.install();
  log.info({ address: address.address, port: address.port, protocol: config.protocol, pauseEveryMs: config.pauseEvery, task: task.name }, 'listening');
  cycle.start();
  return { port: address.port, shutdown };
}
