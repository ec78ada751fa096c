/**
 * The composition root: builds every part from the config, then connects them. No logic of
 * its own: state lives in the hub (src/hub/), what a pause does in src/cycle/, each way out
 * in src/outlets/, the shutdown sequence in src/shutdown/.
 *
 * Startup order matters: task and hardware first (both can fail with exit 78, and onoff's
 * synchronous export must happen before READY), then the outlets start (listen), then READY.
 */
import type { Logger } from 'pino';
import type { Config } from './config/options.js';
import { createPauseSequence } from './cycle/pause-sequence.js';
import { PauseCycle } from './cycle/pause-cycle.js';
import type { GpioBackend } from './gpio/types.js';
import { setupHardware, type Hardware } from './hardware.js';
import { Hub } from './hub/hub.js';
import { createLedOutlet } from './outlets/leds/outlet.js';
import { closeOutlets, forceCloseOutlets, type Outlet } from './outlets/outlet.js';
import { createNotifier, type Notifier } from './outlets/systemd/notify.js';
import { createSystemdOutlet } from './outlets/systemd/outlet.js';
import { createTcpOutlet } from './outlets/tcp/outlet.js';
import type { PinetdServer } from './outlets/tcp/server.js';
import { loadAccessPolicy } from './protocol/access.js';
import { KvStore } from './protocol/store.js';
import { Shutdown } from './shutdown/shutdown.js';
import { StatePersistence } from './store/persistence.js';
import { loadState } from './store/state-dir.js';
import { loadTask } from './tasks/load.js';
import { TaskRunner } from './tasks/runner.js';
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
  readonly hub: Hub;
  readonly server: PinetdServer;
  readonly shutdown: Shutdown;
  readonly hardware: Hardware;
}

export async function startDaemon(deps: DaemonDeps): Promise<Daemon> {
  const { config, log, version, exit, timers = realTimers, processTarget = process } = deps;
  const access = loadAccessPolicy(config);
  const store = new KvStore();
  // Before anything is set up: a bad --state-dir is exit 78 with nothing to release.
  const saved = config.stateDir === null ? undefined : loadState(config.stateDir, store, log);
  const task = await loadTask(config.task);
  const mqtt = config.mqtt === null ? undefined : (await import('./outlets/mqtt/outlet.js')).prepareMqttOutlet(config, task.name, task.entities);
  const hardware = setupHardware(config, log, task.name, task.pins, deps.gpioBackend);
  const notifier = deps.notifier ?? createNotifier({ log });
  const hub = new Hub({
    info: { deviceId: config.deviceId, task: task.name, protocol: config.protocol, gpio: hardware.backend.name, version, pid: process.pid, node: process.version, arch: process.arch },
    log,
    historySize: config.history,
    timers,
  });
  if (saved) hub.restoreHistory(saved.history);
  const persistence = config.stateDir === null ? undefined : new StatePersistence({ dir: config.stateDir, store, history: hub.history, flushMs: config.storeFlush, log, timers });
  const runner = new TaskRunner({ task: task.fn, name: task.name, timeoutMs: config.taskTimeout, log, timers, gpio: hardware.gpio, config });
  const cycle = new PauseCycle({
    periodMs: config.pauseEvery,
    log,
    timers,
    busy: () => runner.busy,
    pause: createPauseSequence({ hub, runner, log, timers }),
    onSkip: (n) => hub.pauseSkipped(n),
  });

  // Outlets, in start order; they close in reverse.
  const tcp = createTcpOutlet({ config, hub, store, access, log, timers, onRead: (now) => cycle.checkDue(now) });
  const outlets: Outlet[] = [tcp, createLedOutlet(hub, hardware.leds), createSystemdOutlet(hub, notifier), ...(mqtt ? [mqtt({ hub, log, timers })] : [])];
  if (config.http) outlets.push((await import('./outlets/http/outlet.js')).createHttpOutlet({ config, http: config.http, hub, log, timers }));

  // The one release path for every exit: failed start, clean exit, forced exit, crash.
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    forceCloseOutlets(outlets, log);
    persistence?.closeSync(); // a forced exit or a crash: the last state, synchronously
    hardware.close();
  };
  // Whatever ends the process (crash, process.exit anywhere), LEDs go off and lines are unexported.
  processTarget.once('exit', release);

  const shutdown = new Shutdown({
    graceMs: config.shutdownGrace,
    log,
    timers,
    clients: () => hub.clients,
    hooks: {
      drain: (_signal, graceMs) => {
        void cycle.stop();
        hub.beginDrain(graceMs);
      },
      tick: (remainingS) => hub.countdown(remainingS),
      settle: () => cycle.stop(),
      close: async () => {
        await closeOutlets(outlets, log);
        await persistence?.close(); // no client is left to change the store
      },
      forceClose: () => runner.abort(),
      exit: (code) => {
        release();
        exit(code);
      },
    },
  });
  hub.on('clients', () => shutdown.clientsChanged());

  // From here on every signal goes through the state machine, also one that arrives while
  // an outlet is still starting: with no clients it releases the hardware and exits at once.
  shutdown.install(processTarget);
  try {
    for (const outlet of outlets) await outlet.start?.();
  } catch (err) {
    shutdown.uninstall(processTarget);
    release();
    throw err;
  }
  const port = tcp.address?.port ?? 0;
  const daemon: Daemon = { port, hub, server: tcp.server, shutdown, hardware };
  // A signal while starting has already run the shutdown: do not start serving behind it.
  if (shutdown.state !== 'serving') return daemon;
  log.info({ address: tcp.address?.address, port, protocol: config.protocol, pauseEveryMs: config.pauseEvery, task: task.name, gpio: hardware.backend.name }, 'listening');
  hub.markReady();
  cycle.start();
  return daemon;
}
