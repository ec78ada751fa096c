/**
 * The Raspberry Pi tarballs, end to end on this x86-64 machine: deploy/build.sh cross-builds
 * arm64 and armhf, each tarball is unpacked, and the real daemon runs FROM THE TARBALL under
 * qemu user-mode emulation with the official ARM node of the target major (the same bytes a Pi
 * would run), talking to a native TCP client over loopback.
 *
 * Only with PINETD_SYSTEM_TESTS=1 (CI sets it); then missing prerequisites fail, they do not skip.
 * Emulated JS runs 11-14x slower than native: every wait is on a log line or a reply, with
 * generous bounds, never a sleep.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineClient } from '../helpers/client.js';
import { DaemonProcess } from '../helpers/daemon.js';
import { cleanEnv, emulated, execFileP, missingPrerequisites, REPO, TARGETS, type PiArch } from './helpers/arm.js';
import { SYSTEM_TESTS_ENABLED } from './helpers/enabled.js';

const ENABLED = SYSTEM_TESTS_ENABLED;
const NODE_MAJOR = 20;
const BUILD_SH = join(REPO, 'deploy/build.sh');
const NODE_DIST_SH = join(REPO, 'deploy/node-dist.sh');

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const title = ENABLED
  ? 'Raspberry Pi tarballs under qemu'
  : 'Raspberry Pi tarballs under qemu (skipped: set PINETD_SYSTEM_TESTS=1; npm run test:system cross-builds with deploy/build.sh and runs the daemon under qemu-user-static)';

describe.skipIf(!ENABLED)(title, () => {
  // Made in a hook, not at collection: a skipped suite must not leave a temp dir behind.
  let work = '';
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'pinetd-arm-test-'));
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('has its prerequisites (qemu-user-static, cross toolchains and libcs, file, make, python3)', () => {
    expect(missingPrerequisites()).toEqual([]);
  });

  for (const arch of ['arm64', 'armhf'] as const satisfies readonly PiArch[]) {
    describe(arch, () => {
      const target = TARGETS[arch];
      let tarball = '';
      let buildLog = '';
      let root = '';
      let armNode = '';

      beforeAll(async () => {
        const missing = missingPrerequisites();
        if (missing.length > 0) throw new Error(`missing prerequisites:\n  ${missing.join('\n  ')}`);
        const t0 = Date.now();
        // from an unrelated cwd: the script finds the repo itself
        const build = await execFileP(BUILD_SH, ['--arch', arch, '--node-major', String(NODE_MAJOR), '--out', join(work, `out-${arch}`)], {
          cwd: tmpdir(),
          env: cleanEnv(),
          maxBuffer: 16 * 1024 * 1024,
        }).catch((err: { stdout?: string; stderr?: string; message: string }) => {
          throw new Error(`deploy/build.sh --arch ${arch} failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
        });
        buildLog = build.stderr;
        tarball = build.stdout.trim().split('\n').pop() ?? '';
        console.log(`[${arch}] deploy/build.sh: ${Date.now() - t0} ms`);

        const unpack = join(work, `unpacked-${arch}`);
        mkdirSync(unpack, { recursive: true });
        await execFileP('tar', ['-xzf', tarball, '-C', unpack]);
        root = join(unpack, basename(tarball, '.tar.gz'));
        armNode = join((await execFileP(NODE_DIST_SH, [arch, String(NODE_MAJOR)], { env: cleanEnv() })).stdout.trim(), 'bin/node');
      }, 300_000);

      it('builds pinetd-<version>-linux-<arch>.tar.gz with an ARM epoll.node and its glibc floor', () => {
        const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
        expect(basename(tarball)).toBe(`pinetd-${version}-linux-${arch}.tar.gz`);
        for (const f of ['dist/cli/pinetd.cjs', 'dist/bundle/main.cjs', 'dist/bundle/main.cjs.sha256', 'package.json', 'install.sh', 'systemd/pinetd.service', 'systemd/config.example.json', 'avahi/pinetd.service', 'node_modules/epoll/build/Release/epoll.node']) {
          expect(existsSync(join(root, f)), f).toBe(true);
        }
        // Only what runs: the launcher and the bundle, not tsc's per-module output.
        expect(readdirSync(join(root, 'dist'), { recursive: true }).map(String).sort()).toEqual(['bundle', 'bundle/main.cjs', 'bundle/main.cjs.sha256', 'cli', 'cli/pinetd.cjs']);
        const info = readFileSync(join(root, 'BUILDINFO'), 'utf8');
        expect(info).toContain(`PINETD_ARCH=${arch}`);
        expect(info).toContain(`NODE_MAJOR=${NODE_MAJOR}`);
        expect(info).toContain('NODE_MODULE_VERSION=115');
        expect(buildLog).toContain(arch === 'arm64' ? 'ELF 64-bit LSB shared object, ARM aarch64' : 'ELF 32-bit LSB shared object, ARM, EABI5');
        expect(buildLog).toMatch(/epoll\.node: needs GLIBC_2\.\d+/);
      });

      it(`loads the cross-compiled epoll.node in the emulated node ${NODE_MAJOR} (${target.cpu})`, async () => {
        const script = `const e = require(${JSON.stringify(join(root, 'node_modules/epoll'))});
          if (typeof e.Epoll !== 'function') throw new Error('no Epoll class');
          const { Gpio } = require(${JSON.stringify(join(root, 'node_modules/onoff'))});
          console.log(JSON.stringify({ arch: process.arch, modules: process.versions.modules, version: process.version, onoff: typeof Gpio }));`;
        const run = emulated(arch, armNode, ['-e', script]);
        const { stdout } = await execFileP(run.cmd, run.args, { env: run.env, timeout: 60_000 });
        const result = JSON.parse(stdout) as Record<string, string>;
        expect(result).toMatchObject({ arch: target.processArch, modules: '115', onoff: 'function' });
        expect(result.version).toMatch(new RegExp(`^v${NODE_MAJOR}\\.`));
      }, 90_000);

      it('runs the daemon from the tarball: PING, STATUS, a pause cycle, READ, SIGTERM -> SHUTDOWN and exit 0', async () => {
        const t0 = Date.now();
        const run = emulated(arch, armNode, [
          join(root, 'dist/cli/pinetd.cjs'),
          ...['--host', '127.0.0.1', '--port', '0', '--gpio', 'mock', '--pause-every', '1s', '--task', 'board', '--log-level', 'info', '--shutdown-grace', '2s'],
        ]);
        const daemon = new DaemonProcess([], {}, run);
        let client: LineClient | undefined;
        try {
          const listening = await daemon.waitForMsg('listening', 90_000);
          expect(listening.address).toBe('127.0.0.1');
          const port = listening.port as number;
          expect(port).toBeGreaterThan(0);
          const tListening = Date.now() - t0;

          client = await LineClient.connect(port);
          expect(await client.request('PING', 30_000)).toBe('PONG');
          const status = JSON.parse(await client.request('STATUS', 30_000)) as Record<string, unknown>;
          expect(status).toMatchObject({ arch: target.processArch, state: 'serving' });

          await daemon.waitForMsg('resumed', 60_000); // a pause cycle ran the board task
          const reading = JSON.parse(await client.request('READ', 30_000)) as Record<string, unknown>;
          expect(reading).toMatchObject({ ok: true });

          daemon.proc.kill('SIGTERM');
          expect(await client.next(30_000)).toBe('SHUTDOWN');
          client.socket.end();
          const exit = await within(daemon.exited, 60_000, 'daemon exit after SIGTERM');
          expect(exit, daemon.stderr).toMatchObject({ code: 0, signal: null });
          expect(daemon.logs.map((l) => l.msg)).toContain('stopped');
          console.log(`[${arch}] emulated daemon: listening after ${tListening} ms, whole scenario ${Date.now() - t0} ms`);
        } finally {
          client?.socket.destroy();
          if (daemon.proc.exitCode === null && daemon.proc.signalCode === null) daemon.proc.kill('SIGKILL');
        }
      }, 240_000);
    });
  }
});
