/**
 * The one owner of sd_notify traffic: READY=1, STATUS=, STOPPING=1 and WATCHDOG=1.
 *
 * Transport is the systemd-notify(1) CLI in a child process: READY/STATUS through the
 * `systemd-notify` npm package, WATCHDOG=1 and STOPPING=1 (which the package cannot express) as
 * plain `VAR=value` arguments to the same CLI. Messages then come from a short-lived child, not
 * the main PID, so the unit needs NotifyAccess=all; and systemd drops a message whose sender
 * exited before it was read (https://github.com/systemd/systemd/issues/2737). The CLI of
 * systemd >= 246 waits until the manager has processed the message (sd_notify_barrier, see
 * `--no-block` in systemd-notify(1)), which closes that race; never pass --no-block.
 *
 * Rules: with NOTIFY_SOCKET unset nothing is spawned and no timer runs; a failed notify is logged
 * (a warning once per kind, then debug) and never throws; STATUS updates are coalesced (one child
 * in flight at a time, identical text dropped, the latest text wins), so a burst of connects costs
 * at most two processes. Order is kept: READY, then STOPPING, then any newer STATUS.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import type SdNotify from 'systemd-notify';
import { realTimers, type TimerHandle, type Timers } from '../../util/timers.js';

export type SpawnFn = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

export type NotifyKind = 'ready' | 'status' | 'stopping' | 'watchdog';

export interface NotifierOptions {
  readonly log: Pick<Logger, 'warn' | 'debug'>;
  /**
   * Where NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID are read. The CLI child itself always
   * inherits process.env (the npm package has no env option; the raw path matches it).
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Schedules the watchdog pings; fake timers in tests. */
  readonly timers?: Timers;
  /** Spawns the CLI for WATCHDOG=1 / STOPPING=1 (READY/STATUS go through the npm package). */
  readonly spawnFn?: SpawnFn;
}

export interface Notifier {
  /** True when systemd gave us a NOTIFY_SOCKET. */
  readonly enabled: boolean;
  /** WATCHDOG=1 period in ms (half of WATCHDOG_USEC), or null when no watchdog was requested. */
  readonly watchdogMs: number | null;
  /** READY=1 with STATUS=status. */
  ready(status: string): void;
  /** STATUS=text, coalesced. */
  status(text: string): void;
  /** STOPPING=1, with STATUS=status when given. */
  stopping(status?: string): void;
  /** Resolves when nothing is queued or in flight. Never rejects; bound it with a timeout at exit. */
  flush(): Promise<void>;
  /** Stops the watchdog and ignores later calls; messages already queued still go out. Idempotent. */
  close(): void;
}

const CLI = 'systemd-notify';

/** A STATUS= value must stay on one line: a newline would smuggle extra VAR= fields into the datagram. */
function oneLine(text: string): string {
  return text.replace(/[\r\n\0]+/g, ' ').trim();
}

function watchdogPeriodMs(env: Readonly<Record<string, string | undefined>>): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isSafeInteger(usec) || usec <= 0) return null;
  // WATCHDOG_PID names the process systemd expects pings from; a child that inherited the
  // variables must not ping on the parent's behalf (sd_watchdog_enabled(3)).
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== String(process.pid)) return null;
  // Half the timeout, as sd_watchdog_enabled(3) recommends.
  return Math.max(1, Math.floor(usec / 2000));
}

function asError(reason: unknown, kind: NotifyKind): Error {
  if (reason instanceof Error) return reason;
  // The npm package rejects with the child's stderr, which is empty when the CLI fails silently.
  const text = typeof reason === 'string' ? reason.trim() : '';
  return new Error(text || `${CLI} failed to send ${kind}`);
}

export function createNotifier({ log, env = process.env, timers = realTimers, spawnFn = spawn }: NotifierOptions): Notifier {
  const enabled = Boolean(env.NOTIFY_SOCKET);
  // Loaded only under systemd: outside it (a laptop, tests) the package costs nothing.
  let loaded: typeof SdNotify | undefined;
  const sdNotify: typeof SdNotify = (opts) => (loaded ??= createRequire(import.meta.url)('systemd-notify') as typeof SdNotify)(opts);
  const watchdogMs = enabled ? watchdogPeriodMs(env) : null;
  const pidArg = `--pid=${process.pid}`;

  // Desired vs sent state: the pump sends the difference, one child at a time.
  const want = { ready: false, stopping: false, status: undefined as string | undefined };
  const sent = { ready: false, stopping: false, status: undefined as string | undefined };
  let busy = false;
  let watchdogBusy = false;
  let watchdogTimer: TimerHandle | undefined;
  let closed = false;
  const warned = new Set<NotifyKind>();
  let waiters: Array<() => void> = [];

  function failed(kind: NotifyKind, reason: unknown): void {
    const err = asError(reason, kind);
    if (warned.has(kind)) {
      log.debug({ err, kind }, 'sd_notify failed');
      return;
    }
    warned.add(kind);
    log.warn({ err, kind }, 'sd_notify failed (further failures of this kind are logged at debug level)');
  }

  function runCli(args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = spawnFn(CLI, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      } catch (err) {
        reject(err);
        return;
      }
      let stderr = '';
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (chunk: string) => {
        if (stderr.length < 1000) stderr += chunk;
      });
      child.once('error', reject);
      child.once('close', (code, signal) => {
        if (code === 0) resolve();
        else reject(new Error(stderr.trim() || `${CLI} exited with ${signal ?? `status ${code}`}`));
      });
    });
  }

  function send(kind: NotifyKind, run: () => Promise<unknown>, done: () => void): void {
    let promise: Promise<unknown>;
    try {
      promise = run();
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise.then(
      () => done(),
      (reason: unknown) => {
        failed(kind, reason);
        done();
      },
    );
  }

  function settleWaiters(): void {
    if (busy || watchdogBusy || waiters.length === 0) return;
    const ready = waiters;
    waiters = [];
    for (const resolve of ready) resolve();
  }

  // Failed messages are not retried: a retry loop against a broken socket is the flood we avoid.
  function pump(): void {
    if (busy) return;
    const afterwards = (): void => {
      busy = false;
      pump();
    };
    if (want.ready && !sent.ready) {
      busy = true;
      sent.ready = true;
      const status = want.status;
      sent.status = status;
      send('ready', () => sdNotify(status === undefined ? { ready: true } : { ready: true, status }), afterwards);
    } else if (want.stopping && !sent.stopping) {
      busy = true;
      sent.stopping = true;
      const args = [pidArg, 'STOPPING=1'];
      if (want.status !== undefined && want.status !== sent.status) args.push(`STATUS=${want.status}`);
      sent.status = want.status;
      send('stopping', () => runCli(args), afterwards);
    } else if (want.status !== undefined && want.status !== sent.status) {
      busy = true;
      const status = want.status;
      sent.status = status;
      send('status', () => sdNotify({ status }), afterwards);
    } else {
      settleWaiters();
    }
  }

  function pingWatchdog(): void {
    if (closed || watchdogMs === null) return;
    // One ping in flight is enough; a second would only queue behind the same socket.
    if (!watchdogBusy) {
      watchdogBusy = true;
      send('watchdog', () => runCli([pidArg, 'WATCHDOG=1']), () => {
        watchdogBusy = false;
        settleWaiters();
      });
    }
    // An event-loop timer on purpose: a blocked loop stops the pings and systemd's watchdog fires.
    watchdogTimer = timers.setTimeout(pingWatchdog, watchdogMs);
    watchdogTimer.unref?.();
  }

  if (watchdogMs !== null) {
    watchdogTimer = timers.setTimeout(pingWatchdog, watchdogMs);
    watchdogTimer.unref?.();
  }

  return {
    enabled,
    watchdogMs,
    ready(status) {
      if (!enabled || closed) return;
      want.ready = true;
      want.status = oneLine(status);
      pump();
    },
    status(text) {
      if (!enabled || closed) return;
      want.status = oneLine(text);
      pump();
    },
    stopping(status) {
      if (!enabled || closed) return;
      want.stopping = true;
      if (status !== undefined) want.status = oneLine(status);
      pump();
    },
    flush() {
      if (!busy && !watchdogBusy) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
    close() {
      if (closed) return;
      closed = true;
      timers.clearTimeout(watchdogTimer);
      watchdogTimer = undefined;
    },
  };
}
