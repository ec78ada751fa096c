/**
 * deploy/push.sh into a real systemd on an emulated Raspberry Pi 3: a Debian bookworm arm64 SD
 * card (helpers/pi-rootfs.ts) booted on qemu raspi3b through a busybox initramfs that loads the
 * SD host and ext4 modules and switch_roots to systemd. From the host, the real push.sh over ssh
 * on a forwarded loopback port detects arm64, builds, copies and installs; the unit then runs as
 * user pinetd with its sandbox and drives the sample config's LEDs on the real pinctrl-bcm2835
 * driver, read back from the emulated GPIO registers.
 *
 * Only with PINETD_SYSTEM_TESTS=1 (CI sets it); then missing prerequisites fail, they do not skip.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineClient } from '../helpers/client.js';
import { cleanEnv, execFileP, missingPrerequisites, REPO } from './helpers/arm.js';
import { SYSTEM_TESTS_ENABLED } from './helpers/enabled.js';
import { buildInitramfs, consoleDtb, debianKernel, missingPiPrerequisites } from './helpers/pi-image.js';
import { EmulatedPi, freePort, GPLEV0 } from './helpers/pi-qemu.js';
import { missingRootfsPrerequisites, overlay, rootfsImage } from './helpers/pi-rootfs.js';

const run = promisify(execFile);
const ENABLED = SYSTEM_TESTS_ENABLED;
/** The LEDs of systemd/config.example.json, which install.sh installs as /etc/pinetd/config.json. */
const LEDS = { ready: 17, activity: 27, task: 22, error: 5 } as const;
const LED_MASK = Object.values(LEDS).reduce((m, pin) => m | (1 << pin), 0);
/** Bound of one step: every daemon start on the emulated Pi takes tens of seconds. */
const STEP_MS = 480_000;

// Loads the SD host controller and ext4, mounts the card and hands over to systemd.
const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
@@MODULES@@
i=0; while [ ! -b /dev/mmcblk0 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
mount -t ext4 -o rw /dev/mmcblk0 /newroot || { echo "@@NO-ROOT"; exec sh; }
umount /proc /sys
mount --move /dev /newroot/dev
echo "@@SWITCH-ROOT"
exec switch_root /newroot /sbin/init
`;

const title = ENABLED
  ? 'deploy/push.sh into systemd on an emulated Raspberry Pi 3 (Debian bookworm arm64)'
  : 'deploy/push.sh into systemd on an emulated Raspberry Pi 3 (skipped: set PINETD_SYSTEM_TESTS=1; builds a Debian arm64 rootfs with mmdebstrap and boots it on qemu raspi3b as root)';

describe.skipIf(!ENABLED)(title, () => {
  let work = '';
  let pi: EmulatedPi | undefined;
  let sshPort = 0;
  let daemonPort = 0;
  let key = '';

  function sshOpts(): string[] {
    return ['Port=' + sshPort, 'IdentityFile=' + key, 'StrictHostKeyChecking=no', 'UserKnownHostsFile=/dev/null', 'BatchMode=yes', 'LogLevel=ERROR', 'ConnectTimeout=10'];
  }

  /** A command on the Pi over ssh; never rejects on a non-zero status. */
  async function onPi(command: string, timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
    const args = [...sshOpts().flatMap((o) => ['-o', o]), 'root@127.0.0.1', command];
    return run('ssh', args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' }),
    );
  }

  /** Runs the real deploy/push.sh with stdin from /dev/null (no terminal here: its `ssh -t` gets no tty). */
  function pushSh(extra: string[] = []): Promise<{ stdout: string; stderr: string }> {
    const args = ['root@127.0.0.1', ...extra, ...sshOpts().flatMap((o) => ['--ssh-opt', o])];
    return new Promise((resolve, reject) => {
      const child = spawn(join(REPO, 'deploy/push.sh'), args, { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      const timer = setTimeout(() => child.kill('SIGKILL'), STEP_MS - 10_000);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve({ stdout, stderr });
        else reject(new Error(`push.sh exited ${code ?? signal}\n${stdout}\n${stderr}`));
      });
    });
  }

  function guest(): EmulatedPi {
    if (!pi?.running) throw new Error(`the emulated Pi is not running; console:\n${pi?.console() ?? '(never started)'}`);
    return pi;
  }

  async function expectLedsOn(): Promise<void> {
    const g = guest();
    expect(await g.level(LEDS.ready), 'ready LED level').toBe(1);
    for (const [role, pin] of Object.entries(LEDS)) expect(await g.pinFunction(pin), `${role} LED (BCM ${pin}) function`).toBe(1);
  }

  async function expectReleased(): Promise<void> {
    const g = guest();
    expect(((await g.readWord(GPLEV0)) & LED_MASK) >>> 0, 'LED bits in GPLEV0').toBe(0);
    for (const [role, pin] of Object.entries(LEDS)) expect(await g.pinFunction(pin), `${role} LED (BCM ${pin}) function`).toBe(0);
    const ls = await onPi('ls /sys/class/gpio');
    expect(ls.stdout.split(/\s+/).filter((f) => /^gpio\d+$/.test(f))).toEqual([]);
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pinetd-pi-deploy-'));
    const missing = [...missingPrerequisites(), ...(await missingPiPrerequisites()), ...missingRootfsPrerequisites()];
    if (missing.length > 0) throw new Error(`missing prerequisites:\n  ${missing.join('\n  ')}`);
    let t = Date.now();
    const kernel = await debianKernel();
    const nodeDir = (await execFileP(join(REPO, 'deploy/node-dist.sh'), ['arm64', '20'], { env: cleanEnv() })).stdout.trim();
    const img = await rootfsImage(kernel, nodeDir);
    key = join(work, 'id_ed25519');
    await run('install', ['-m', '0600', img.key, key]);
    const initrd = await buildInitramfs({ work, kernel, modules: ['bcm2835', 'sdhci-iproc', 'ext4'], files: {}, init: INIT });
    console.log(`[pi-deploy] rootfs image and initramfs: ${Date.now() - t} ms`);

    t = Date.now();
    [sshPort, daemonPort] = [await freePort(), await freePort()];
    pi = new EmulatedPi({
      kernel,
      initrd,
      dtb: await consoleDtb(kernel, work),
      append: 'rdinit=/init loglevel=3',
      sdCard: await overlay(img.image, join(work, 'run.qcow2')),
      qmpSocket: join(work, 'qmp.sock'),
      forwards: [
        [sshPort, 22],
        [daemonPort, 9999],
      ],
      lifetimeMs: 25 * 60_000,
    });
    await pi.waitLine((l) => l.startsWith('@@SWITCH-ROOT'), 120_000, 'the SD card root');
    // the serial getty's banner: multi-user.target is up; then ssh answers once networkd has the address
    await pi.waitLine((l) => /^Debian GNU\/Linux 12 \S+ ttyAMA0/.test(l), 400_000, 'the login prompt on the serial console');
    const deadline = Date.now() + 120_000;
    while ((await onPi('true', 30_000)).code !== 0) {
      if (Date.now() > deadline || !pi.running) throw new Error(`no ssh within 120 s of the login prompt; console:\n${pi.console()}`);
    }
    console.log(`[pi-deploy] boot to ssh: ${Date.now() - t} ms`);
  }, 1_500_000);

  afterAll(async () => {
    if (pi?.running) {
      await onPi('systemctl reboot', 20_000);
      await pi.shutdown(30_000);
    }
    if (work) rmSync(work, { recursive: true, force: true });
  }, 90_000);

  it('push.sh detects arm64, builds, installs and shows the service active (running)', async () => {
    const t = Date.now();
    const push = await pushSh();
    console.log(`[pi-deploy] push.sh (build, copy, install, start): ${Date.now() - t} ms`);
    expect(push.stderr).toMatch(/-> arm64/);
    expect(push.stdout).toContain('Active: active (running)');
    expect((await onPi('systemctl is-active pinetd')).stdout.trim()).toBe('active');
  }, STEP_MS);

  it('the unit runs as user pinetd in group gpio with its sandbox; Debian needed the installer\'s udev rule', async () => {
    const pid = (await onPi('systemctl show -p MainPID --value pinetd')).stdout.trim();
    expect(Number(pid)).toBeGreaterThan(0);
    const status = (await onPi(`cat /proc/${pid}/status`)).stdout;
    const ids = (await onPi('echo "$(id -u pinetd) $(getent group gpio | cut -d: -f3)"')).stdout.trim().split(' ');
    expect(status).toMatch(new RegExp(`^Uid:\\s+${ids[0]}\\s`, 'm'));
    expect(/^Groups:\s*(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/)).toContain(ids[1]);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(status).toMatch(/^Seccomp:\s+2$/m);
    expect(status).toMatch(/^CapEff:\s+0+$/m);
    // Debian's udev has no rule for group gpio: install.sh wrote its own, and it took effect
    expect((await onPi('cat /etc/udev/rules.d/60-pinetd-gpio.rules')).code).toBe(0);
    expect((await onPi('stat -c %G /sys/class/gpio/export')).stdout.trim()).toBe('gpio');
    // The launcher's V8 code cache, in the unit's CacheDirectory= (writable under ProtectSystem=strict)
    // (written a second after the start, so give the emulated board up to 60 s)
    const cache = await onPi('for i in $(seq 60); do ls /var/cache/pinetd/pinetd-*.v8cache >/dev/null 2>&1 && break; sleep 1; done; stat -c "%U %a" /var/cache/pinetd/pinetd-*.v8cache');
    expect(cache.stdout.trim(), cache.stderr).toBe('pinetd 600');
  }, STEP_MS);

  it('lights the LEDs of /etc/pinetd/config.json on the real driver and answers STATUS with gpio "onoff"', async () => {
    await expectLedsOn();
    const client = await LineClient.connect(daemonPort);
    try {
      const status = JSON.parse(await client.request('STATUS', 30_000)) as Record<string, unknown>;
      expect(status).toMatchObject({ gpio: 'onoff', arch: 'arm64' });
    } finally {
      client.socket.destroy();
    }
  }, STEP_MS);

  it('systemctl stop leaves every LED off and every line unexported; restart comes back active with the LEDs on', async () => {
    expect((await onPi('systemctl stop pinetd')).code).toBe(0);
    await expectReleased();
    expect((await onPi('systemctl restart pinetd && systemctl is-active pinetd')).stdout.trim()).toBe('active');
    await expectLedsOn();
  }, STEP_MS);

  it('a second push.sh with a new build upgrades in place, --rollback returns to the first, --uninstall removes it', async () => {
    const first = (await onPi('readlink /opt/pinetd')).stdout.trim();
    // a different build of the same version: unpack the first tarball, change a file, repack
    const out = join(REPO, 'out');
    const name = (await onPi('basename "$(readlink /opt/pinetd)"')).stdout.trim();
    expect(name).not.toBe('');
    const tarball = join(out, `pinetd-${name.replace(/-[0-9a-f]{16}$/, '')}-linux-arm64.tar.gz`);
    const dir = join(work, 'rebuild');
    mkdirSync(dir);
    await run('tar', ['-xzf', tarball, '-C', dir]);
    const top = basename(tarball, '.tar.gz');
    await run('sh', ['-c', 'echo "upgrade test" > "$1/NOTICE" && sed -i "s/^BUILD_ID=.*/BUILD_ID=0123456789abcdef/" "$1/BUILDINFO"', 'sh', join(dir, top)]);
    const second = join(work, `${top}.tar.gz`);
    await run('tar', ['-czf', second, '-C', dir, top]);

    const push = await pushSh(['--tarball', second]);
    expect(push.stdout).toContain('Active: active (running)');
    expect((await onPi('readlink /opt/pinetd')).stdout.trim()).toMatch(/-0123456789abcdef$/);
    expect((await onPi('readlink /opt/pinetd.releases/previous')).stdout.trim()).toBe(first);
    await expectLedsOn();

    const rollback = await onPi('/opt/pinetd/install.sh --rollback');
    expect(rollback.code, rollback.stderr).toBe(0);
    expect((await onPi('readlink /opt/pinetd')).stdout.trim()).toBe(first);
    expect((await onPi('systemctl is-active pinetd')).stdout.trim()).toBe('active');

    const uninstall = await onPi('/opt/pinetd/install.sh --uninstall');
    expect(uninstall.code, uninstall.stderr).toBe(0);
    expect((await onPi('ls -d /opt/pinetd /opt/pinetd.releases /etc/systemd/system/pinetd.service /var/cache/pinetd 2>/dev/null; id pinetd 2>/dev/null; true')).stdout.trim()).toBe('');
    expect((await onPi('test -f /etc/pinetd/config.json && echo kept')).stdout.trim()).toBe('kept');
    await expectReleased();
  }, STEP_MS);
});
