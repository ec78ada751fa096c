/**
 * systemd/pinetd.service, installed verbatim, under a real systemd booted in systemd-nspawn.
 *
 * The container sees this checkout read-only at /opt/pinetd and gets /etc/pinetd/config.json
 * written into its tmpfs /etc, so the unit's ExecStart runs unmodified; the user and the gpio
 * group come from systemd/pinetd.sysusers.conf via systemd-sysusers. Scenario tweaks are
 * drop-ins, as an operator would do them. The container shares the host's network namespace,
 * so the test talks TCP to 127.0.0.1:<port> directly.
 *
 * Runs with PINETD_SYSTEM_TESTS=1 after `npm run build`; then missing prerequisites fail.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bootContainer, missingPrerequisites, waitFor, type Container } from './helpers/nspawn.js';
import { SYSTEM_TESTS_ENABLED } from './helpers/enabled.js';

const ENABLED = SYSTEM_TESTS_ENABLED;
const CHECKOUT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const UNIT = 'pinetd.service';
const DROPIN_DIR = `/etc/systemd/system/${UNIT}.d`;
const BLOCK_LOOP_TASK = '/opt/pinetd/test/fixtures/tasks/block-loop.mjs';

interface JournalEntry {
  MESSAGE?: string;
  _PID?: string;
  _SYSTEMD_INVOCATION_ID?: string;
  INVOCATION_ID?: string;
  __MONOTONIC_TIMESTAMP: string;
  [key: string]: unknown;
}

/** A pino line from the daemon's stdout, as journald stored it. */
interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** `Sun 2026-11-22 04:33:35.123456 UTC` (systemctl --timestamp=us+utc) → ms since the epoch, fractional. */
function usTimestamp(text: string): number {
  const m = /(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\.(\d{6}) UTC$/.exec(text);
  if (!m) throw new Error(`unexpected timestamp ${text}`);
  return Date.parse(`${m[1]}T${m[2]}Z`) + Number(m[3]) / 1000;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolvePort(port));
    });
  });
}

/** A line-protocol client that records every line it receives. */
async function connect(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  socket.setEncoding('utf8');
  const lines: string[] = [];
  let buffer = '';
  let closed = false;
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let i: number;
    while ((i = buffer.indexOf('\n')) >= 0) {
      lines.push(buffer.slice(0, i));
      buffer = buffer.slice(i + 1);
    }
  });
  socket.on('close', () => {
    closed = true;
  });
  socket.on('error', () => {});
  await new Promise<void>((ok, fail) => {
    socket.once('connect', ok);
    socket.once('error', fail);
  });
  return {
    lines,
    get closed() {
      return closed;
    },
    send: (line: string) => socket.write(`${line}\n`),
    next: (pred: (line: string) => boolean, what: string, timeoutMs = 5000) => waitFor(what, () => lines.find(pred), timeoutMs),
    destroy: () => socket.destroy(),
  };
}

const title = ENABLED
  ? 'pinetd.service under a real systemd (systemd-nspawn)'
  : 'pinetd.service under a real systemd (skipped: set PINETD_SYSTEM_TESTS=1 to run; needs root, systemd-container, and `npm run build`)';

describe.skipIf(!ENABLED)(title, () => {
  let ct: Container;
  let port: number;
  const clients: Array<{ destroy(): void }> = [];

  async function journal(): Promise<JournalEntry[]> {
    const out = await ct.check(['journalctl', '-u', UNIT, '-o', 'json', '--no-pager', '--output-fields=MESSAGE,_PID,_SYSTEMD_INVOCATION_ID,INVOCATION_ID']);
    return out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as JournalEntry);
  }

  /** The daemon's own pino lines of one invocation of the unit. */
  async function daemonLog(invocation: string): Promise<LogLine[]> {
    return (await journal())
      .filter((e) => e._SYSTEMD_INVOCATION_ID === invocation && typeof e.MESSAGE === 'string' && e.MESSAGE.startsWith('{'))
      .map((e) => JSON.parse(e.MESSAGE as string) as LogLine);
  }

  /** systemd's own messages about the unit (Starting/Started/Watchdog timeout...). */
  async function managerLog(): Promise<string[]> {
    return (await journal()).filter((e) => e.INVOCATION_ID !== undefined || e._SYSTEMD_INVOCATION_ID === undefined).map((e) => String(e.MESSAGE));
  }

  function writeConfig(config: Record<string, unknown>): void {
    ct.writeFile('/etc/pinetd/config.json', `${JSON.stringify(config, null, 2)}\n`);
  }

  // pauseEvery 0: no pauses, so StatusText only moves with the clients.
  const baseConfig = (): Record<string, unknown> => ({ host: '127.0.0.1', port, gpio: 'mock', shutdownGrace: '3s', logLevel: 'info', pauseEvery: 0 });

  async function dropIn(name: string, body: string): Promise<void> {
    ct.writeFile(`${DROPIN_DIR}/${name}.conf`, `[Service]\n${body}\n`);
    await ct.check(['systemctl', 'daemon-reload']);
  }

  beforeAll(async () => {
    const missing = missingPrerequisites();
    if (!existsSync(join(CHECKOUT, 'dist/cli/pinetd.cjs'))) missing.push(`${CHECKOUT}/dist/cli/pinetd.cjs missing: run \`npm run build\` first`);
    const node = realpathSync(process.execPath);
    if (node !== '/usr/bin/node') missing.push(`the unit runs /usr/bin/node, but this node is ${node}; install Node 20+ as /usr/bin/node`);
    if (missing.length > 0) throw new Error(`PINETD_SYSTEM_TESTS is set but prerequisites are missing:\n- ${missing.join('\n- ')}`);

    port = await freePort();
    const name = `pinetd-test-${process.pid}-${randomBytes(3).toString('hex')}`;
    ct = await bootContainer({ name, consoleFile: join(tmpdir(), `${name}.console.log`), bindRo: [{ host: CHECKOUT, container: '/opt/pinetd' }] });

    // nspawn mounts the container's /sys read-only; a board's /sys is writable, and the unit's
    // ProtectKernelTunables=/ReadWritePaths= only mean something on top of a writable one. Only
    // this mount's flag changes (bind remount), after boot, so no boot service writes sysfs.
    await ct.check(['mount', '-o', 'remount,bind,rw', '/sys']);

    // Installed exactly as shipped.
    ct.writeFile(`/etc/systemd/system/${UNIT}`, readFileSync(join(CHECKOUT, 'systemd/pinetd.service'), 'utf8'));
    ct.writeFile('/etc/sysusers.d/pinetd.conf', readFileSync(join(CHECKOUT, 'systemd/pinetd.sysusers.conf'), 'utf8'));
    await ct.check(['systemd-sysusers']);
    await ct.check(['systemctl', 'daemon-reload']);
  }, 60_000);

  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    if (!ct) return;
    // Back to a clean unit: stopped, no failure state, no drop-ins.
    await ct.exec(['systemctl', 'kill', '--signal=SIGKILL', UNIT]);
    await ct.exec(['systemctl', 'stop', UNIT]);
    await ct.exec(['systemctl', 'reset-failed', UNIT]);
    await ct.exec(['rm', '-rf', DROPIN_DIR]);
    await ct.exec(['systemctl', 'daemon-reload']);
  }, 30_000);

  afterAll(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await ct?.destroy();
  }, 30_000);

  it('is activating until READY=1, then active with a status; answers PING; stops cleanly after a SHUTDOWN countdown', async () => {
    writeConfig(baseConfig());
    await ct.check(['systemctl', 'start', '--no-block', UNIT]);
    const seen = new Set<string>();
    await waitFor('ActiveState=active', async () => {
      const { ActiveState: state } = await ct.show(UNIT, ['ActiveState']);
      seen.add(state!);
      return state === 'active' ? true : undefined;
    });
    // Polling usually catches `activating`; it must never see anything but these two.
    expect([...seen].filter((x) => x !== 'activating' && x !== 'active')).toEqual([]);
    const props = await ct.show(UNIT, ['SubState', 'StatusText', 'InvocationID', 'InactiveExitTimestamp', 'ActiveEnterTimestamp']);
    expect(props.SubState).toBe('running');
    expect(props.StatusText).toBe('serving 0 clients');

    // The unit left `inactive` (became activating) before the daemon was even listening, and
    // became active only after it: systemd waited for READY=1, which the daemon sends once it
    // listens, not for the fork. Wall clock in µs (systemd) vs ms (pino's time), same kernel.
    const lines = await waitFor('the "listening" log line', async () => {
      const l = await daemonLog(props.InvocationID!);
      return l.some((x) => x.msg === 'listening') ? l : undefined;
    });
    const listenedAt = Date.parse(String(lines.find((x) => x.msg === 'listening')!.time));
    expect(usTimestamp(props.InactiveExitTimestamp!)).toBeLessThan(listenedAt);
    expect(usTimestamp(props.ActiveEnterTimestamp!)).toBeGreaterThanOrEqual(listenedAt);

    // A request over TCP, from the host into the service's sandbox.
    const pinger = await connect(port);
    clients.push(pinger);
    pinger.send('PING');
    await pinger.next((l) => l === 'PONG', 'PONG');
    // `systemctl status` follows the clients (STATUS= via the coalescing notifier).
    await waitFor('StatusText "serving 1 client"', async () => ((await ct.show(UNIT, ['StatusText'])).StatusText === 'serving 1 client' ? true : undefined));
    pinger.destroy();
    await waitFor('StatusText "serving 0 clients"', async () => ((await ct.show(UNIT, ['StatusText'])).StatusText === 'serving 0 clients' ? true : undefined));

    // A client that stays connected keeps the countdown running for the whole grace period.
    const stayer = await connect(port);
    clients.push(stayer);
    const stopStarted = Date.now();
    const stop = await ct.exec(['systemctl', 'stop', UNIT], 20_000);
    const stopMs = Date.now() - stopStarted;
    expect(stop.code, stop.stderr).toBe(0);
    expect(stayer.lines).toContain('SHUTDOWN');
    await waitFor('the client to be disconnected', () => (stayer.closed ? true : undefined));
    expect(stopMs).toBeGreaterThan(1500); // the countdown ran, it was not cut short
    expect(stopMs).toBeLessThan(15_000); // and ended before TimeoutStopSec's SIGKILL

    const after = await ct.show(UNIT, ['ActiveState', 'Result', 'ExecMainStatus', 'NRestarts']);
    expect(after).toMatchObject({ ActiveState: 'inactive', Result: 'success', ExecMainStatus: '0', NRestarts: '0' });

    const final = await waitFor('the final log line', async () => {
      const l = await daemonLog(props.InvocationID!);
      return l.some((x) => x.msg === 'stopped') ? l : undefined;
    });
    expect(final.filter((l) => l.msg === 'shutting down').map((l) => l.remainingS)).toEqual([3, 2, 1]);
    // KillMode=mixed: the STOPPING=1 notify child spawned in the SIGTERM handler is not killed.
    expect(final.filter((l) => /sd_notify failed/.test(l.msg))).toEqual([]);
  }, 40_000);

  it('runs as the unprivileged pinetd user in group gpio, with /sys read-only except the GPIO paths', async () => {
    writeConfig(baseConfig());
    await ct.check(['systemctl', 'start', UNIT]);
    const { MainPID: pid } = await ct.show(UNIT, ['MainPID']);
    const status = await ct.check(['cat', `/proc/${pid}/status`]);
    const uid = (await ct.check(['id', '-u', 'pinetd'])).trim();
    const gpioGid = (await ct.check(['getent', 'group', 'gpio'])).split(':')[2];
    expect(status).toMatch(new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'));
    expect(status.match(/^Groups:\s*(.*)$/m)?.[1]?.split(/\s+/)).toContain(gpioGid);
    expect(status).toMatch(/^CapEff:\s+0+$/m);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);

    // The service's own mount table: what ProtectKernelTunables= and ReadWritePaths= made of /sys.
    // Writes to /sys/class/gpio/gpioN/value resolve through a symlink into /sys/devices/platform.
    const mounts = (await ct.check(['cat', `/proc/${pid}/mountinfo`])).split('\n').filter(Boolean).map((l) => {
      const f = l.split(' ');
      return { target: f[4]!, options: f[5]!.split(',') };
    });
    const optionsOf = (target: string) => mounts.filter((m) => m.target === target).at(-1)?.options;
    expect(optionsOf('/sys')).toContain('ro');
    expect(optionsOf('/sys/devices/platform')).toContain('rw');
    if (existsSync('/sys/class/gpio')) expect(optionsOf('/sys/class/gpio')).toContain('rw');
    expect(optionsOf('/opt/pinetd')).toContain('ro'); // ProtectSystem=strict
  }, 30_000);

  it('is killed with Result=watchdog and restarted when a task blocks the event loop past WatchdogSec', async () => {
    writeConfig({ ...baseConfig(), task: BLOCK_LOOP_TASK, pauseEvery: '1s' });
    await dropIn('watchdog', 'WatchdogSec=2');
    await ct.check(['systemctl', 'start', UNIT]); // returns once READY=1 arrived
    const first = await ct.show(UNIT, ['MainPID', 'WatchdogUSec']);
    expect(first.WatchdogUSec).toBe('2s');

    // Between the kill and the restart (RestartSec=2s) the unit shows why it died.
    const dead = await waitFor('the watchdog to fire', async () => {
      const p = await ct.show(UNIT, ['SubState', 'Result', 'NRestarts']);
      return p.SubState === 'auto-restart' ? p : undefined;
    }, 15_000, 100);
    expect(dead.Result).toBe('watchdog');

    const restarted = await waitFor('the restart', async () => {
      const p = await ct.show(UNIT, ['ActiveState', 'MainPID', 'NRestarts']);
      return Number(p.NRestarts) >= 1 && p.ActiveState === 'active' ? p : undefined;
    }, 15_000, 100);
    expect(restarted.MainPID).not.toBe(first.MainPID);
    const manager = await managerLog();
    expect(manager.some((m) => /Watchdog timeout/.test(m))).toBe(true);
    expect(manager.some((m) => /SIGABRT/.test(m))).toBe(true);
  }, 40_000);

  it('keeps the SET store in its StateDirectory: a value survives `systemctl restart pinetd`', async () => {
    writeConfig(baseConfig());
    await ct.check(['systemctl', 'start', UNIT]);
    const first = await ct.show(UNIT, ['MainPID', 'StateDirectory']);
    expect(first.StateDirectory).toBe('pinetd');
    const value = `kept-${randomBytes(4).toString('hex')}`;
    const writer = await connect(port);
    clients.push(writer);
    writer.send(`SET survivor ${value}`);
    await writer.next((l) => l === 'OK', 'OK');
    writer.destroy();

    // A graceful stop (SIGTERM) saves the store; the restart loads it.
    await ct.check(['systemctl', 'restart', UNIT], 20_000);
    const second = await ct.show(UNIT, ['MainPID', 'ActiveState']);
    expect(second.ActiveState).toBe('active');
    expect(second.MainPID).not.toBe(first.MainPID);
    const reader = await connect(port);
    clients.push(reader);
    reader.send('GET survivor');
    await reader.next((l) => l === value, `the value ${value}`);

    // The file is the service user's, private to it (UMask=0077), in /var/lib/pinetd.
    const stat = (await ct.check(['stat', '-c', '%U %a', '/var/lib/pinetd/kv.json'])).trim();
    expect(stat).toBe('pinetd 600');
  }, 40_000);

  it('fails once, without restarting, when the config is invalid (exit 78)', async () => {
    writeConfig({ port: 'nope' });
    const start = await ct.exec(['systemctl', 'start', UNIT]);
    expect(start.code).not.toBe(0);
    const failed = await ct.show(UNIT, ['ActiveState', 'Result', 'ExecMainStatus', 'NRestarts', 'InvocationID']);
    expect(failed).toMatchObject({ ActiveState: 'failed', Result: 'exit-code', ExecMainStatus: '78', NRestarts: '0' });
    // Longer than RestartSec=2s: a restart would have happened by now.
    await new Promise((r) => setTimeout(r, 3000));
    expect(await ct.show(UNIT, ['ActiveState', 'NRestarts'])).toMatchObject({ ActiveState: 'failed', NRestarts: '0' });
    // The operator sees what to fix in the journal.
    const messages = (await journal()).filter((e) => e._SYSTEMD_INVOCATION_ID === failed.InvocationID).map((e) => String(e.MESSAGE));
    expect(messages.join('\n')).toMatch(/invalid value for "port".*'nope'/);
  }, 30_000);
});
