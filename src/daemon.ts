/**
 * The composition root: builds each part from the config and wires their events together.
 * No logic of its own beyond the wiring; each concern lives in its module.
 *
 * Startup order matters: task and hardware first (both can fail with exit 78, and onoff's
 * synchronous export must happen before READY), then listen, then READY.
 */
import type { Logger } from 'pino';
import type { Config } from './config/options.js';
import { PauseCycle } from './cycle/pause-cycle.js';
import type { GpioBackend } from './gpio/types.js';
import { setupHardware, type Hardware } from './hardware.js';
import { KvStore } from './protocol/store.js';
import type { CommandHost } from './protocol/commands.js';
import { PinetdServer } from './server/server.js';
import { Shutdown } from './shutdown/shutdown.js';
import { createNotifier, type Notifier } from './systemd/notify.js';
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
  readonly notifier?: Notifier;
  /** Tests: a mock backend to inspect, instead of the one --gpio selects. */
  readonly gpioBackend?: GpioBackend;
  /** Where signals and the exit hook are installed (tests run the daemon in-process). */
  readonly processTarget?: NodeJS.EventEmitter;
}

export interface Daemon {
  readonly port: number;
  readonly server: PinetdServer;
  readonly shutdown: Shutdown;
  readonly hardware: Hardware;
}

export async function startDaemon(deps: DaemonDeps): Promise<Daemon> {
  const { config, log, version, exit, timers = realTimers, processTarget = process } = deps;
  const notifier = deps.notifier ?? createNotifier({ log });
  const task = await loadTask(config.task);
  const hardware = setupHardware(config, log, task.name, task.pins, deps.gpioBackend);
  // Safety net: whatever ends the process (crash, process.exit anywhere), LEDs go off and
  // lines are unexported. close() is synchronous and idempotent.
  processTarget.once('exit', () => hardware.close());
  const { leds } = hardware;

  const startedAt = timers.now();
  const store = new KvStore();
  let requests = 0;
  let lastTask: TaskResult | undefined;
  let lastReading: TaskResult | undefined;

  const runner = new TaskRunner({ task: task.fn, name: task.name, timeoutMs: config.taskTimeout, log, timers, gpio: hardware.gpio, config: config as unknown as Record<string, unknown> });

  const state = (): 'serving' | 'paused' | 'draining' => (shutdown.state !== 'serving' ? 'draining' : cycle.active ? 'paused' : 'serving');
  /** What `systemctl status` shows. */
  const statusText = (): string => {
    const s = state();
    if (s === 'draining') return `shutting down in ${shutdown.remainingS} s`;
    if (s === 'paused') return `paused: running ${task.name}`;
    return `serving ${server.clients} client${server.clients === 1 ? '' : 's'}`;
  };

  const commands: CommandHost = {
    store,
    status: () => ({
      state: state(),
      uptimeMs: Math.round(timers.now() - startedAt),
      clients: server.clients,
      requests,
      pauses: cycle.pauses,
      skippedPauses: cycle.skipped,
      lastTask: lastTask ? { ok: lastTask.ok, durationMs: lastTask.durationMs, at: lastTask.at, ...(lastTask.error ? { error: lastTask.error } : {}) } : null,
      task: task.name,
      protocol: config.protocol,
      gpio: hardware.backend.name,
      leds: leds.snapshot(),
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
      leds.activity();
    },
    onClientCount: () => {
      shutdown.clientsChanged();
      notifier.status(statusText());
    },
  });

  const cycle = new PauseCycle({
    periodMs: config.pauseEvery,
    log,
    timers,
    busy: () => runner.busy,
    pause: async () => {
      const started = timers.now();
      server.pause();
      leds.taskStart();
      log.info({ task: task.name }, 'paused');
      notifier.status(`paused: running ${task.name}`);
      let result: TaskResult | undefined;
      try {
        result = await runner.run();
        lastTask = result;
        if (result.ok) lastReading = result;
      } finally {
        // Whatever happened above, clients must not stay held.
        leds.taskEnd(result?.ok === true);
        server.resume();
        log.info({ durationMs: Math.round(timers.now() - started), ok: result?.ok === true }, 'resumed');
        notifier.status(statusText());
      }
      if (result.ok) server.publish(`READING ${JSON.stringify(commands.reading())}\n`);
    },
  });

  const leave = (code: number): void => {
    hardware.close();
    notifier.close();
    exit(code);
  };

  const shutdown = new Shutdown({
    graceMs: config.shutdownGrace,
    log,
    timers,
    clients: () => server.clients,
    hooks: {
      drain: () => {
        void cycle.stop();
        server.drain();
        leds.draining();
        notifier.stopping(statusText());
      },
      tick: () => notifier.status(statusText()),
      settle: () => cycle.stop(),
      close: () => server.close(),
      forceClose: () => {
        runner.abort();
        void server.close();
      },
      exit: leave,
    },
  });

  // From here on every signal goes through the state machine, also one that arrives while
  // the socket is still binding: with no clients it releases the hardware and exits at once.
  shutdown.install(processTarget);
  let address;
  try {
    address = await server.listen();
  } catch (err) {
    shutdown.uninstall(processTarget);
    hardware.close();
    notifier.close();
    throw err;
  }
  // A signal while binding has already run the shutdown: do not start serving behind it.
  if (shutdown.state !== 'serving') return { port: address.port, server, shutdown, hardware };
  leds.serving();
  log.info({ address: address.address, port: address.port, protocol: config.protocol, pauseEveryMs: config.pauseEvery, task: task.name, gpio: hardware.backend.name }, 'listening');
  notifier.ready(statusText());
  cycle.start();
  return { port: address.port, server, shutdown, hardware };
}
