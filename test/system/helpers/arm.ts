/**
 * Runs ARM binaries on this x86-64 machine with qemu user-mode emulation (no binfmt_misc, no
 * rootfs): `qemu-aarch64-static -L /usr/aarch64-linux-gnu` finds the ARM loader and libc of
 * Debian's libc6-arm64-cross (armhf: qemu-arm-static, libc6-armhf-cross). QEMU_CPU is a real Pi
 * CPU: qemu's default "max" CPU emulates pointer authentication slowly.
 * The ARM node is the official build from the npm registry (deploy/node-dist.sh).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const execFileP = promisify(execFile);

export type PiArch = 'arm64' | 'armhf';

export interface Target {
  /** node's process.arch there. */
  readonly processArch: 'arm64' | 'arm';
  readonly qemu: string;
  readonly sysroot: string;
  readonly cpu: string;
  /** The ELF loader inside the sysroot (proves libc6-*-cross is installed). */
  readonly loader: string;
  readonly crossPackages: string;
}

export const TARGETS: Record<PiArch, Target> = {
  arm64: {
    processArch: 'arm64',
    qemu: 'qemu-aarch64-static',
    sysroot: '/usr/aarch64-linux-gnu',
    cpu: 'cortex-a72', // Pi 4
    loader: '/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1',
    crossPackages: 'g++-aarch64-linux-gnu libc6-arm64-cross libstdc++6-arm64-cross',
  },
  armhf: {
    processArch: 'arm',
    qemu: 'qemu-arm-static',
    sysroot: '/usr/arm-linux-gnueabihf',
    cpu: 'cortex-a7', // Pi 2 v1.1 / the 32-bit OS's baseline
    loader: '/usr/arm-linux-gnueabihf/lib/ld-linux-armhf.so.3',
    crossPackages: 'g++-arm-linux-gnueabihf libc6-armhf-cross libstdc++6-armhf-cross',
  },
};

function onPath(bin: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin').split(':').some((d) => d !== '' && existsSync(`${d}/${bin}`));
}

/** What is missing to cross-build and emulate; system tests fail (not skip) on any of it. */
export function missingPrerequisites(): string[] {
  const missing: string[] = [];
  for (const [arch, t] of Object.entries(TARGETS)) {
    if (!onPath(t.qemu)) missing.push(`${t.qemu} not found (apt-get install qemu-user-static)`);
    if (!existsSync(t.loader)) missing.push(`${t.loader} not found (apt-get install ${t.crossPackages})`);
    const cxx = arch === 'arm64' ? 'aarch64-linux-gnu-g++' : 'arm-linux-gnueabihf-g++';
    if (!onPath(cxx)) missing.push(`${cxx} not found (apt-get install ${t.crossPackages})`);
  }
  for (const [bin, pkg] of [['file', 'file'], ['make', 'make'], ['python3', 'python3'], ['tar', 'tar']]) {
    if (!onPath(bin!)) missing.push(`${bin} not found (apt-get install ${pkg})`);
  }
  return missing;
}

/** Environment for children: no npm_config_* leaking from an outer `npm run`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

/** argv + env to run `node ARGS...` for arch under qemu. */
export function emulated(arch: PiArch, armNode: string, args: readonly string[]): { cmd: string; args: string[]; env: NodeJS.ProcessEnv } {
  const t = TARGETS[arch];
  return { cmd: t.qemu, args: ['-L', t.sysroot, armNode, ...args], env: cleanEnv({ QEMU_CPU: t.cpu }) };
}
