/**
 * A Debian bookworm arm64 SD card image for the emulated Raspberry Pi 3, with systemd as init
 * and sshd (/work/shared/notes/emulated-pi.md): mmdebstrap minbase plus systemd, udev,
 * openssh-server, kmod, iproute2 and sudo (deploy/push.sh runs the installer with sudo); the
 * official Node 20 arm64 at /usr/bin/node, where the unit's ExecStart expects it; the kernel's
 * modules; systemd-networkd with QEMU's user-mode addresses; root's authorized_keys for a key
 * made with the image. Foreign-architecture package scripts run through qemu-user-static,
 * registered in binfmt_misc only while mmdebstrap runs.
 *
 * Cached in <cache>/rootfs/ by a hash of the package list (the mmdebstrap tarball) and of
 * everything else that goes into the image (pi.img and its key).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cacheDir, type Kernel } from './pi-image.js';

const run = promisify(execFile);

export const ROOTFS_PACKAGES = ['systemd', 'systemd-sysv', 'udev', 'openssh-server', 'kmod', 'iproute2', 'sudo'] as const;
const MIRROR = 'http://deb.debian.org/debian';
/** Bump when the customisation below changes. */
const IMAGE_RECIPE = 1;
const BINFMT = '/proc/sys/fs/binfmt_misc';
const BINFMT_CONF = '/usr/lib/binfmt.d/qemu-aarch64.conf';

export function missingRootfsPrerequisites(): string[] {
  const need: Array<[string, string]> = [
    ['/usr/bin/mmdebstrap', 'mmdebstrap'],
    ['/usr/bin/qemu-img', 'qemu-utils'],
    ['/usr/sbin/mkfs.ext4', 'e2fsprogs'],
    ['/usr/bin/ssh', 'openssh-client'],
    ['/usr/bin/ssh-keygen', 'openssh-client'],
    [BINFMT_CONF, 'qemu-user-static'],
  ];
  return need.filter(([f]) => !existsSync(f)).map(([f, pkg]) => `${f} not found (apt-get install ${pkg})`);
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** Runs fn with qemu-aarch64 registered in binfmt_misc, undoing exactly what it did. */
async function withBinfmt<T>(fn: () => Promise<T>): Promise<T> {
  const mounted = !existsSync(join(BINFMT, 'register'));
  if (mounted) await run('mount', ['-t', 'binfmt_misc', 'binfmt_misc', BINFMT]);
  const registered = !existsSync(join(BINFMT, 'qemu-aarch64'));
  try {
    if (registered) writeFileSync(join(BINFMT, 'register'), readFileSync(BINFMT_CONF, 'utf8').trim());
    if (!readFileSync(join(BINFMT, 'qemu-aarch64'), 'utf8').startsWith('enabled')) throw new Error('binfmt_misc qemu-aarch64 is not enabled');
    return await fn();
  } finally {
    if (registered && existsSync(join(BINFMT, 'qemu-aarch64'))) writeFileSync(join(BINFMT, 'qemu-aarch64'), '-1');
    if (mounted) await run('umount', [BINFMT]);
  }
}

/** The mmdebstrap tarball, built once per package list (~2 min, ~270 MB). */
async function rootfsTar(): Promise<string> {
  const dir = join(cacheDir(), 'rootfs');
  const tar = join(dir, `bookworm-arm64-${hash(`bookworm arm64 minbase ${ROOTFS_PACKAGES.join(',')}`)}.tar`);
  if (existsSync(tar)) return tar;
  mkdirSync(dir, { recursive: true });
  const tmp = `${tar}.${process.pid}.tmp.tar`;
  await withBinfmt(() =>
    run('mmdebstrap', ['--quiet', '--architectures=arm64', '--variant=minbase', `--include=${ROOTFS_PACKAGES.join(',')}`, 'bookworm', tmp, MIRROR], {
      maxBuffer: 64 * 1024 * 1024,
    }),
  ).catch((err: unknown) => {
    rmSync(tmp, { force: true });
    throw err;
  });
  renameSync(tmp, tar);
  return tar;
}

export interface RootfsImage {
  /** ext4 image labelled rootfs (2 GiB: raspi3b wants a power-of-two SD card). */
  readonly image: string;
  /** Private key whose public half is root's authorized_keys. */
  readonly key: string;
}

/** The SD card image with node and the kernel's modules, cached by all its inputs. */
export async function rootfsImage(kernel: Kernel, nodeDir: string): Promise<RootfsImage> {
  const tar = await rootfsTar();
  const nodeVersion = JSON.parse(readFileSync(join(nodeDir, 'package.json'), 'utf8')) as { version: string };
  const dir = join(cacheDir(), 'rootfs', `image-${hash(`${tar} ${kernel.release} ${kernel.packageVersion} node ${nodeVersion.version} recipe ${IMAGE_RECIPE}`)}`);
  const result = { image: join(dir, 'pi.img'), key: join(dir, 'id_ed25519') };
  if (existsSync(result.image)) return result;

  const tmp = mkdtempSync(`${dir}.tmp.`);
  try {
    const root = join(tmp, 'root');
    mkdirSync(root);
    await run('tar', ['-xf', tar, '-C', root]);
    cpSync(join(kernel.root, 'lib/modules', kernel.release), join(root, 'lib/modules', kernel.release), { recursive: true });
    await run('depmod', ['-b', root, kernel.release]);
    cpSync(join(nodeDir, 'bin/node'), join(root, 'usr/bin/node'));

    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'pinetd-test', '-f', join(tmp, 'id_ed25519')]);
    mkdirSync(join(root, 'root/.ssh'), { recursive: true, mode: 0o700 });
    writeFileSync(join(root, 'root/.ssh/authorized_keys'), readFileSync(join(tmp, 'id_ed25519.pub')), { mode: 0o600 });

    const files: Record<string, string> = {
      'etc/hostname': 'pi\n',
      'etc/hosts': '127.0.0.1 localhost\n127.0.1.1 pi\n',
      'etc/fstab': 'LABEL=rootfs / ext4 defaults 0 1\n',
      'etc/modules-load.d/pi.conf': 'bcm2835_wdt\nphy-generic\ndwc2\ncdc_ether\n',
      'etc/systemd/network/10-usb.network': '[Match]\nType=ether\n\n[Network]\nAddress=10.0.2.15/24\nGateway=10.0.2.2\n',
    };
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), content);
    }
    const wants = join(root, 'etc/systemd/system/multi-user.target.wants');
    mkdirSync(wants, { recursive: true });
    symlinkSync('/lib/systemd/system/systemd-networkd.service', join(wants, 'systemd-networkd.service'));
    // units that only cost boot time here
    for (const unit of ['e2scrub_reap.service', 'apt-daily.timer', 'apt-daily-upgrade.timer', 'getty-static.service']) {
      symlinkSync('/dev/null', join(root, 'etc/systemd/system', unit));
    }
    chmodSync(root, 0o755);
    await run('mkfs.ext4', ['-q', '-L', 'rootfs', '-d', root, join(tmp, 'pi.img'), '2G']);
    rmSync(root, { recursive: true, force: true });
    renameSync(tmp, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return result;
}

/** A throwaway copy-on-write overlay of the cached image, for one boot. */
export async function overlay(image: string, path: string): Promise<string> {
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', image, '-F', 'raw', path]);
  return path;
}
