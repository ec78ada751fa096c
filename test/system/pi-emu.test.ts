/**
 * The arm64 release on an emulated Raspberry Pi 3 with a real kernel GPIO driver: QEMU's raspi3b
 * machine emulates the BCM2837 and its GPIO block, Debian's arm64 kernel drives it with the real
 * pinctrl-bcm2835 driver, and the real onoff module (from the tarball, its epoll.node
 * cross-built by deploy/build.sh) drives the pins through sysfs. The host reads what the pins
 * really do from the emulated GPIO registers (QMP), and talks to the daemon over a hostfwd port.
 *
 * One boot of a busybox initramfs (kernel, glibc, busybox from Debian's archive; the official
 * Node arm64 binary; the unpacked tarball as /opt/pinetd) runs every scenario in sequence,
 * driven over the serial console. Recipe: /work/shared/notes/emulated-pi.md.
 *
 * Only with PINETD_SYSTEM_TESTS=1 (CI sets it); then missing prerequisites fail, they do not skip.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineClient } from '../helpers/client.js';
import { FIXTURES } from '../helpers/daemon.js';
import { cleanEnv, execFileP, missingPrerequisites, REPO } from './helpers/arm.js';
import { SYSTEM_TESTS_ENABLED } from './helpers/enabled.js';
import { buildInitramfs, consoleDtb, debianKernel, missingPiPrerequisites } from './helpers/pi-image.js';
import { EmulatedPi, freePort, GPLEV0 } from './helpers/pi-qemu.js';

const ENABLED = SYSTEM_TESTS_ENABLED;
const NODE_MAJOR = 20;
/** BCM pins of the four LEDs (all in GPLEV0; 5 in GPFSEL0, 17 in GPFSEL1, 22 and 27 in GPFSEL2). */
const LEDS = { ready: 17, activity: 27, task: 22, error: 5 } as const;
const LED_MASK = Object.values(LEDS).reduce((m, pin) => m | (1 << pin), 0);
/** The chip has BCM 0-53; the config accepts up to 57. */
const MISSING_PIN = 55;
const GUEST_PORT = 9999;
const TASK_MS = 2500;
/** Bound of one scenario: emulated node starts in seconds, not milliseconds. */
const STEP_MS = 180_000;

const ledsConfig = {
  host: '0.0.0.0',
  port: GUEST_PORT,
  pauseEvery: '8s',
  task: '/test/slow.mjs',
  taskTimeout: '15s',
  shutdownGrace: '8s',
  leds: LEDS,
};

// The guest's /init: mount, console on ttyAMA0 without echo, modules, usb0 with QEMU's user-mode
// addresses, then a loop that runs each line the host writes on the serial console.
const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin HOME=/
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
exec </dev/ttyAMA0 >/dev/ttyAMA0 2>&1
stty -echo
echo 1 > /proc/sys/kernel/printk
@@MODULES@@
i=0; while [ ! -e /sys/class/net/usb0 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
ip link set lo up
ip addr add 10.0.2.15/24 dev usb0
ip link set usb0 up
ip route add default via 10.0.2.2
echo "@@BOOTED $(cut -d' ' -f1 /proc/uptime)"
while IFS= read -r line; do sh -c "$line"; done
`;

interface LogLine {
  msg?: string;
  [key: string]: unknown;
}

function logLine(line: string): LogLine | undefined {
  if (!line.startsWith('{"level"')) return undefined;
  try {
    return JSON.parse(line) as LogLine;
  } catch {
    return undefined;
  }
}

const title = ENABLED
  ? 'arm64 release on an emulated Raspberry Pi 3 (real pinctrl-bcm2835 GPIO driver)'
  : 'arm64 release on an emulated Raspberry Pi 3 (skipped: set PINETD_SYSTEM_TESTS=1; boots qemu-system-aarch64 -M raspi3b as root)';

describe.skipIf(!ENABLED)(title, () => {
  let work = '';
  let pi: EmulatedPi | undefined;
  let hostPort = 0;
  let runs = 0;

  /** The booted guest (fails the test when the boot failed). */
  function guest(): EmulatedPi {
    if (!pi?.running) throw new Error(`the emulated Pi is not running; console:\n${pi?.console() ?? '(never started)'}`);
    return pi;
  }

  /** Starts the daemon in the guest in the background; resolves once it logs `listening`. */
  async function startDaemon(args: string): Promise<{ pid: number; tag: string; from: number; listening: LogLine; ms: number }> {
    const g = guest();
    const tag = `D${++runs}`;
    const from = g.lines.length;
    const t0 = performance.now();
    await g.sh(`{ ( PINETD_TEST_TASK_MS=${TASK_MS} node /opt/pinetd/dist/cli/pinetd.cjs ${args} </dev/null & echo "@@PID ${tag} $!"; wait $!; echo "@@EXIT ${tag} $?" ) & }`);
    const pidLine = await g.waitLine((l) => l.startsWith(`@@PID ${tag} `), 10_000, 'daemon pid', from);
    const line = await g.waitLine((l) => logLine(l)?.msg === 'listening' || l.startsWith(`@@EXIT ${tag} `), 120_000, 'daemon listening', from);
    const listening = logLine(line);
    if (!listening) throw new Error(`daemon exited before listening: ${line}\n${g.lines.slice(from).join('\n')}`);
    return { pid: Number(pidLine.split(' ')[2]), tag, from, listening, ms: performance.now() - t0 };
  }

  async function exitStatus(tag: string, from: number, timeoutMs = 60_000): Promise<number> {
    const line = await guest().waitLine((l) => l.startsWith(`@@EXIT ${tag} `), timeoutMs, `daemon ${tag} exit`, from);
    return Number(line.split(' ')[2]);
  }

  /** After the daemon exited: every LED pin low, back to input, and no gpioN left in sysfs. */
  async function expectReleased(): Promise<void> {
    const g = guest();
    expect(((await g.readWord(GPLEV0)) & LED_MASK) >>> 0, 'LED bits in GPLEV0').toBe(0);
    for (const [role, pin] of Object.entries(LEDS)) expect(await g.pinFunction(pin), `${role} LED (BCM ${pin}) function`).toBe(0);
    const ls = await g.sh('ls /sys/class/gpio');
    expect(ls.output.join(' ').split(/\s+/).filter((f) => /^gpio\d+$/.test(f))).toEqual([]);
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pinetd-pi-emu-'));
    const missing = [...missingPrerequisites(), ...(await missingPiPrerequisites())];
    if (missing.length > 0) throw new Error(`missing prerequisites:\n  ${missing.join('\n  ')}`);

    let t = Date.now();
    const build = await execFileP(join(REPO, 'deploy/build.sh'), ['--arch', 'arm64', '--node-major', String(NODE_MAJOR), '--out', join(work, 'out')], {
      cwd: tmpdir(),
      env: cleanEnv(),
      maxBuffer: 16 * 1024 * 1024,
    });
    const tarball = build.stdout.trim().split('\n').pop() ?? '';
    mkdirSync(join(work, 'unpacked'));
    await execFileP('tar', ['-xzf', tarball, '-C', join(work, 'unpacked')]);
    const nodeDir = (await execFileP(join(REPO, 'deploy/node-dist.sh'), ['arm64', String(NODE_MAJOR)], { env: cleanEnv() })).stdout.trim();
    console.log(`[pi-emu] deploy/build.sh --arch arm64 + node-dist.sh: ${Date.now() - t} ms`);

    t = Date.now();
    const kernel = await debianKernel();
    const initrd = await buildInitramfs({
      work,
      kernel,
      modules: ['bcm2835_wdt', 'phy-generic', 'dwc2', 'cdc_ether'],
      app: { nodeDir, pinetdRoot: join(work, 'unpacked', basename(tarball, '.tar.gz')) },
      files: {
        '/test/slow.mjs': { from: join(FIXTURES, 'tasks/slow.mjs') },
        '/test/leds.json': JSON.stringify(ledsConfig),
        '/test/bad-pin.json': JSON.stringify({ ...ledsConfig, leds: { ...LEDS, error: MISSING_PIN } }),
      },
      init: INIT,
    });
    console.log(`[pi-emu] kernel ${kernel.release} (${kernel.packageVersion}), initramfs: ${Date.now() - t} ms`);

    hostPort = await freePort();
    const dtb = await consoleDtb(kernel, work);
    pi = new EmulatedPi({ kernel, initrd, dtb, qmpSocket: join(work, 'qmp.sock'), forwards: [[hostPort, GUEST_PORT]], lifetimeMs: 15 * 60_000 });
    const booted = await pi.waitLine((l) => l.startsWith('@@BOOTED '), 180_000, 'guest /init ready');
    console.log(`[pi-emu] boot to the guest shell: ${Math.round(performance.now() - pi.startedAt)} ms (guest uptime ${booted.split(' ')[1]} s)`);
  }, 900_000);

  afterAll(async () => {
    await pi?.shutdown();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('has its prerequisites (qemu-system-arm, cpio, kmod, the arm64 dpkg architecture, root, the cross toolchain)', async () => {
    expect([...missingPrerequisites(), ...(await missingPiPrerequisites())]).toEqual([]);
  }, STEP_MS);

  it('the kernel exposes the SoC GPIO as pinctrl-bcm2835 at a base that is neither 0 nor 512', async () => {
    const chips = await guest().sh('for c in /sys/class/gpio/gpiochip*; do echo "chip $(cat $c/label) $(cat $c/base) $(cat $c/ngpio)"; done');
    const soc = chips.output.map((l) => l.split(' ')).find((f) => f[0] === 'chip' && f[1] === 'pinctrl-bcm2835');
    expect(soc, chips.output.join('\n')).toBeDefined();
    expect(Number(soc![3])).toBe(54);
    expect([0, 512]).not.toContain(Number(soc![2]));
  }, STEP_MS);

  describe('a daemon with four LEDs, --gpio auto', () => {
    let daemon: Awaited<ReturnType<typeof startDaemon>> | undefined;
    let client: LineClient | undefined;

    afterAll(async () => {
      client?.socket.destroy();
      if (daemon && pi?.running) await pi.sh(`kill -KILL ${daemon.pid} 2>/dev/null; true`).catch(() => undefined);
    });

    it('picks onoff by itself, finds the chip by its label, and reports gpio "onoff" and arch "arm64" in STATUS', async () => {
      daemon = await startDaemon('--gpio auto --config /test/leds.json');
      console.log(`[pi-emu] start -> listening on the emulated Pi 3 (--gpio auto, 4 LEDs): ${Math.round(daemon.ms)} ms`);
      const g = guest();
      expect(daemon.listening.gpio).toBe('onoff');
      const chips = await g.sh('cat /sys/class/gpio/gpiochip*/label /sys/class/gpio/gpiochip*/base');
      const selected = g.lines.slice(daemon.from).map(logLine).find((l) => l?.msg === 'GPIO through onoff');
      expect(selected, g.lines.slice(daemon.from).join('\n')).toMatchObject({ chip: 'pinctrl-bcm2835', ngpio: 54 });
      expect(chips.output).toContain(String(selected!.base)); // the chip's own base from sysfs
      console.log(`[pi-emu] pinctrl-bcm2835 base ${String(selected!.base)}`);

      client = await LineClient.connect(hostPort);
      const status = JSON.parse(await client.request('STATUS', 30_000)) as Record<string, unknown>;
      expect(status).toMatchObject({ gpio: 'onoff', arch: 'arm64', state: 'serving' });
    }, STEP_MS);

    it('drives the ready LED high while serving, each LED pin an output in GPFSEL, the error LED off', async () => {
      const g = guest();
      expect(await g.level(LEDS.ready), 'ready LED level').toBe(1);
      expect(await g.level(LEDS.error), 'error LED level').toBe(0);
      for (const [role, pin] of Object.entries(LEDS)) expect(await g.pinFunction(pin), `${role} LED (BCM ${pin}) function`).toBe(1);
      const debug = await g.sh(`cat /sys/class/gpio/gpio[0-9]*/direction`);
      expect(debug.output.filter((l) => l === 'out')).toHaveLength(4);
    }, STEP_MS);

    it('drives the task LED high during a pause and low after it', async () => {
      const g = guest();
      const from = g.lines.length;
      await g.waitLine((l) => logLine(l)?.msg === 'paused', 60_000, 'a pause', from);
      expect(await g.level(LEDS.task), 'task LED during the pause').toBe(1);
      const resumed = await g.waitLine((l) => logLine(l)?.msg === 'resumed', 60_000, 'the end of the pause', from);
      expect(await g.level(LEDS.task), 'task LED after the pause').toBe(0);
      expect(logLine(resumed)?.durationMs).toBeGreaterThanOrEqual(TASK_MS);
      expect(await g.level(LEDS.ready), 'ready LED after the pause').toBe(1);
      const reading = JSON.parse(await client!.request('READ', 30_000)) as Record<string, unknown>;
      expect(reading).toMatchObject({ ok: true, value: { runs: 1 } });
    }, STEP_MS);

    it('blinks the ready LED during the shutdown countdown; after SIGTERM every LED is off and every line unexported', async () => {
      const g = guest();
      const d = daemon!;
      await g.sh(`kill -TERM ${d.pid}`);
      expect(await client!.next(30_000)).toBe('SHUTDOWN');
      const levels = new Set<number>();
      const deadline = performance.now() + 5000; // within the 8 s grace; the LED toggles every 250 ms
      while (levels.size < 2 && performance.now() < deadline) levels.add(await g.level(LEDS.ready));
      expect([...levels].sort(), 'ready LED levels sampled during the countdown').toEqual([0, 1]);
      client!.socket.end(); // the last client gone: the daemon exits 0
      expect(await exitStatus(d.tag, d.from)).toBe(0);
      daemon = undefined;
      await expectReleased();
    }, STEP_MS);
  });

  it('a second SIGTERM during the countdown forces exit 143, and still every LED is off and every line unexported', async () => {
    const d = await startDaemon('--gpio auto --config /test/leds.json --pause-every 0');
    const g = guest();
    const client = await LineClient.connect(hostPort);
    try {
      expect(await client.request('PING', 30_000)).toBe('PONG');
      expect(await g.level(LEDS.ready)).toBe(1);
      const from = g.lines.length;
      await g.sh(`kill -TERM ${d.pid}`);
      await g.waitLine((l) => logLine(l)?.msg === 'shutdown signal received: draining', 30_000, 'the countdown', from);
      await g.sh(`kill -TERM ${d.pid}`);
      expect(await exitStatus(d.tag, d.from)).toBe(143);
      await expectReleased();
    } finally {
      client.socket.destroy();
    }
  }, STEP_MS);

  it(`--gpio onoff with BCM ${MISSING_PIN}, which the chip lacks, exits 78 with one line naming the pin`, async () => {
    const g = guest();
    const run = await g.sh(`node /opt/pinetd/dist/cli/pinetd.cjs --gpio onoff --config /test/bad-pin.json 2>&1`);
    expect(run.status).toBe(78);
    expect(run.output).toHaveLength(1);
    expect(run.output[0]).toMatch(new RegExp(`^pinetd: .*BCM pin ${MISSING_PIN} does not exist on GPIO chip pinctrl-bcm2835 \\(it has BCM 0-53\\)`));
    await expectReleased();
  }, STEP_MS);
});
