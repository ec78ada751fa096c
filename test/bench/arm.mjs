// npm run bench -- --arm: the arm64 release tarball under qemu user-mode emulation, as a proxy
// for a Pi Zero 2 W (the approach of test/system/helpers/arm.ts): start->listening and idle
// RSS (of the qemu process, emulator included) for pinetd and for the bare line server.
// Needs: apt-get install qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross g++-aarch64-linux-gnu
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { HERE, ROOT, SERVER_CPU, median, procStatus, sleep } from './lib.mjs';

const execFileP = promisify(execFile);
const QEMU = 'qemu-aarch64-static';
const SYSROOT = '/usr/aarch64-linux-gnu';
const CPU = 'cortex-a72'; // as the ARM system test: qemu's default "max" CPU is slow at pointer auth

function env() {
  const e = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) e[k] = v;
  return { ...e, QEMU_CPU: CPU };
}

/** Spawn to `listening`, then RSS after 2 s idle; killed after. */
async function once(armNode, args, extraEnv = {}) {
  const t0 = performance.now();
  const child = spawn('taskset', ['-c', SERVER_CPU, QEMU, '-L', SYSROOT, armNode, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...env(), ...extraEnv } });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const startMs = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line within 120 s: ${args.join(' ')}`)), 120000);
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (!line.includes('"listening"')) return;
        clearTimeout(timer);
        resolve(performance.now() - t0);
      });
      exited.then((code) => reject(new Error(`exited ${code}`)));
    });
    await sleep(2000);
    return { startMs, rssMb: procStatus(child.pid).rssKb / 1024 };
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

export async function armFigures({ runs, log }) {
  for (const f of [`${SYSROOT}/lib/ld-linux-aarch64.so.1`]) if (!existsSync(f)) throw new Error(`--arm: ${f} missing (apt-get install libc6-arm64-cross libstdc++6-arm64-cross)`);
  const work = mkdtempSync(join(tmpdir(), 'pinetd-bench-arm-'));
  try {
    const t0 = Date.now();
    const build = await execFileP(join(ROOT, 'deploy/build.sh'), ['--arch', 'arm64', '--node-major', '20', '--out', join(work, 'out')], { cwd: tmpdir(), env: env(), maxBuffer: 16 << 20 });
    const tarball = build.stdout.trim().split('\n').pop();
    await execFileP('tar', ['-xzf', tarball, '-C', work]);
    const root = join(work, basename(tarball, '.tar.gz'));
    const armNode = join((await execFileP(join(ROOT, 'deploy/node-dist.sh'), ['arm64', '20'], { env: env() })).stdout.trim(), 'bin/node');
    log(`  built ${basename(tarball)} in ${Date.now() - t0} ms`);
    const main = join(root, 'dist/cli/pinetd.cjs');
    const variants = {
      bare: [[join(HERE, 'bare-server.mjs')]],
      pinetd: [[main, '--port', '0']],
      mock: [[main, '--port', '0', '--gpio', 'mock']],
      // the first start after an install or upgrade: no V8 code cache yet
      nocache: [[main, '--port', '0'], { PINETD_CODE_CACHE: 'off' }],
    };
    // A first run writes the code cache (it lives past the launcher's 1 s write).
    await once(armNode, variants.pinetd[0]);
    const got = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
    for (let i = 0; i < runs; i++) for (const [k, [args, extraEnv]] of Object.entries(variants)) got[k].push(await once(armNode, args, extraEnv));
    const agg = (xs) => ({ startMs: median(xs.map((x) => x.startMs)), rssMb: median(xs.map((x) => x.rssMb)) });
    return { bare: agg(got.bare), pinetd: agg(got.pinetd), mock: agg(got.mock), nocache: agg(got.nocache) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
