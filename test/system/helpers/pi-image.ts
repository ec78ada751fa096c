/**
 * The pieces of an emulated Raspberry Pi 3 (QEMU raspi3b) from Debian's arm64 archive, following
 * /work/shared/notes/emulated-pi.md: Debian's arm64 kernel (its device tree has the real
 * pinctrl-bcm2835 GPIO driver's node), busybox-static, the arm64 glibc and C++ runtime, all
 * fetched with `apt-get download` and cached by version, and a busybox initramfs holding them,
 * the official Node arm64 binary and an unpacked pinetd tarball.
 *
 * Cache: $PINETD_CACHE_DIR, else $XDG_CACHE_HOME/pinetd-deploy, else ~/.cache/pinetd-deploy (as
 * deploy/node-dist.sh); each package is unpacked once into <cache>/debs/<name>_<version>_arm64.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export function cacheDir(): string {
  const env = process.env;
  if (env.PINETD_CACHE_DIR) return env.PINETD_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'pinetd-deploy');
}

function onPath(bin: string): boolean {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin'];
  return dirs.some((d) => d !== '' && existsSync(join(d, bin)));
}

/** What is missing to build and boot the emulated Pi; the tests fail (not skip) on any of it. */
export async function missingPiPrerequisites(): Promise<string[]> {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('must run as root (mknod for the initramfs, apt-get download into the cache)');
  const tools: Array<[string, string]> = [
    ['qemu-system-aarch64', 'qemu-system-arm'],
    ['cpio', 'cpio'],
    ['depmod', 'kmod'],
    ['modprobe', 'kmod'],
    ['dpkg-deb', 'dpkg'],
    ['apt-get', 'apt'],
    ['fdtput', 'device-tree-compiler'],
  ];
  for (const [bin, pkg] of tools) if (!onPath(bin)) missing.push(`${bin} not found (apt-get install ${pkg})`);
  if (onPath('dpkg')) {
    const { stdout } = await run('dpkg', ['--print-foreign-architectures']);
    if (!stdout.split('\n').includes('arm64')) missing.push('arm64 is not a dpkg architecture (dpkg --add-architecture arm64 && apt-get update)');
  }
  return missing;
}

/** The candidate version of an arm64 package in the apt lists (throws with the fix when unknown). */
async function candidate(pkg: string): Promise<string> {
  const { stdout } = await run('apt-cache', ['show', '--no-all-versions', `${pkg}:arm64`]).catch(() => ({ stdout: '' }));
  const version = /^Version: (.+)$/m.exec(stdout)?.[1];
  if (!version) throw new Error(`${pkg}:arm64 not in the apt lists (dpkg --add-architecture arm64 && apt-get update)`);
  return version;
}

/** Unpacks `pkg`:arm64 (apt-get download + dpkg-deb -x) into the cache once per version; returns its dir. */
export async function debPackage(pkg: string): Promise<{ dir: string; version: string }> {
  const version = await candidate(pkg);
  const debs = join(cacheDir(), 'debs');
  const dir = join(debs, `${pkg}_${version.replace(/[^A-Za-z0-9.+~-]/g, '_')}_arm64`);
  if (existsSync(dir)) return { dir, version };
  mkdirSync(debs, { recursive: true });
  const tmp = mkdtempSync(join(debs, '.fetch.'));
  try {
    await run('apt-get', ['download', '-q', `${pkg}:arm64=${version}`], { cwd: tmp, maxBuffer: 16 * 1024 * 1024 });
    const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${pkg}:arm64=${version} left no .deb`);
    await run('dpkg-deb', ['-x', join(tmp, deb), join(tmp, 'x')]);
    // rename: a concurrent reader never sees a half-unpacked dir
    if (!existsSync(dir)) renameSync(join(tmp, 'x'), dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { dir, version };
}

export interface Kernel {
  /** e.g. 6.1.0-57-arm64 */
  readonly release: string;
  readonly packageVersion: string;
  readonly vmlinuz: string;
  readonly dtb: string;
  /** The unpacked package (lib/modules/<release> with modules.dep). */
  readonly root: string;
}

/** Debian's current arm64 kernel (what linux-image-arm64 depends on), with modules.dep. */
export async function debianKernel(): Promise<Kernel> {
  const { stdout } = await run('apt-cache', ['depends', 'linux-image-arm64:arm64']);
  const pkg = /Depends: (linux-image-[0-9][^:\s]*-arm64)/.exec(stdout)?.[1];
  if (!pkg) throw new Error(`cannot tell the kernel package from apt-cache depends linux-image-arm64:arm64:\n${stdout}`);
  const release = pkg.slice('linux-image-'.length);
  const { dir, version } = await debPackage(pkg);
  // the package ships no modules.dep; depmod on the host over its module tree
  if (!existsSync(join(dir, 'lib/modules', release, 'modules.dep'))) await run('depmod', ['-b', dir, release]);
  return {
    release,
    packageVersion: version,
    vmlinuz: join(dir, 'boot', `vmlinuz-${release}`),
    dtb: join(dir, 'usr/lib', `linux-image-${release}`, 'broadcom/bcm2837-rpi-3-b.dtb'),
    root: dir,
  };
}

/**
 * A copy of the kernel's raspi3b device tree without the Bluetooth node: that serdev device
 * claims the PL011 UART, so no /dev/ttyAMA0 exists for a shell on the serial console (the
 * kernel's own console output still works). The note's fix: `fdtput -r`.
 */
export async function consoleDtb(kernel: Kernel, work: string): Promise<string> {
  const dtb = join(work, 'rpi3b-nobt.dtb');
  cpSync(kernel.dtb, dtb);
  await run('fdtput', ['-r', dtb, '/soc/serial@7e201000/bluetooth']);
  return dtb;
}

/** The .ko files for `modules` and their dependencies, in load order, without repeats. */
export async function moduleFiles(kernel: Kernel, modules: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const m of modules) {
    const { stdout } = await run('modprobe', ['-d', kernel.root, '-S', kernel.release, '--show-depends', m]);
    for (const line of stdout.split('\n')) {
      const file = /^insmod (\S+)/.exec(line)?.[1];
      if (file && !files.includes(file)) files.push(file);
    }
  }
  return files;
}

export interface InitramfsSpec {
  readonly work: string;
  readonly kernel: Kernel;
  /** Kernel modules to insmod at boot (with their dependencies). */
  readonly modules: readonly string[];
  /** The official arm64 node (deploy/node-dist.sh's directory) with the arm64 glibc, and an
   *  unpacked pinetd tarball as /opt/pinetd; without it, busybox alone. */
  readonly app?: { readonly nodeDir: string; readonly pinetdRoot: string };
  /** Extra files: guest path -> content or a host file to copy ({ from }). */
  readonly files: Record<string, string | { from: string }>;
  /** The /init script (busybox sh). `@@MODULES@@` is replaced by the insmod lines. */
  readonly init: string;
}

/** Assembles the root tree and packs it as an uncompressed newc cpio; returns its path. */
export async function buildInitramfs(spec: InitramfsSpec): Promise<string> {
  const root = join(spec.work, 'initramfs');
  rmSync(root, { recursive: true, force: true });
  for (const d of ['bin', 'dev', 'proc', 'sys', 'tmp', 'lib/modules', 'usr/bin', 'opt', 'etc', 'newroot']) mkdirSync(join(root, d), { recursive: true });

  const busybox = await debPackage('busybox-static');
  cpSync(join(busybox.dir, 'bin/busybox'), join(root, 'bin/busybox'));
  if (spec.app) {
    for (const pkg of ['libc6', 'libstdc++6', 'libgcc-s1']) {
      const { dir } = await debPackage(pkg);
      for (const sub of ['lib', 'usr/lib']) if (existsSync(join(dir, sub))) cpSync(join(dir, sub), join(root, sub), { recursive: true, verbatimSymlinks: true });
    }
    if (!existsSync(join(root, 'lib/ld-linux-aarch64.so.1'))) throw new Error('libc6:arm64 has no /lib/ld-linux-aarch64.so.1');
    cpSync(join(spec.app.nodeDir, 'bin/node'), join(root, 'usr/bin/node'));
    cpSync(spec.app.pinetdRoot, join(root, 'opt/pinetd'), { recursive: true, verbatimSymlinks: true });
  }

  const insmods: string[] = [];
  for (const ko of await moduleFiles(spec.kernel, spec.modules)) {
    cpSync(ko, join(root, 'lib/modules', basename(ko)));
    insmods.push(`insmod /lib/modules/${basename(ko)}`);
  }
  for (const [path, content] of Object.entries(spec.files)) {
    mkdirSync(join(root, dirname(path)), { recursive: true });
    if (typeof content === 'string') writeFileSync(join(root, path), content);
    else cpSync(content.from, join(root, path));
  }
  writeFileSync(join(root, 'init'), spec.init.replace('@@MODULES@@', insmods.join('\n')), { mode: 0o755 });
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/:/bin/sh\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\n');

  const cpio = join(spec.work, 'initrd.cpio');
  await run('sh', ['-c', 'cd "$1" && find . | cpio -o -H newc -R 0:0 --quiet > "$2"', 'sh', root, cpio], { maxBuffer: 16 * 1024 * 1024 });
  rmSync(root, { recursive: true, force: true });
  return cpio;
}
