/**
 * Test-side driver of the sysfs simulation (see sysfs-sim.ts for what is emulated and its
 * limits). Bundles sysfs-sim-host.ts and sysfs-sim.ts with esbuild (vite's bundler, already
 * installed with vitest) so the namespaced processes run our TypeScript with plain node, then
 * starts one host per board under `unshare --mount --propagation private`.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { HostSetup, Op } from './sysfs-sim-host.js';
import type { SimEvent, SimLine } from './sysfs-sim.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const REPO = resolve(HERE, '../..');
export const BOARDS = resolve(REPO, 'test/fixtures/sysfs');

/** Whether this machine can run the simulation: root, unshare, tmpfs mounts in a namespace. */
export function simPrerequisites(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== 'linux') return { ok: false, reason: 'needs Linux (mount namespaces)' };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'needs root to mount a tmpfs in a private mount namespace' };
  const target = existsSync('/sys/class/gpio') ? '/sys/class/gpio' : '/sys/class';
  const probe = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', 'mount', '-t', 'tmpfs', 'pinetd-probe', target], { encoding: 'utf8' });
  if (probe.error) return { ok: false, reason: `unshare not runnable: ${probe.error.message} (install util-linux)` };
  if (probe.status !== 0) return { ok: false, reason: `cannot mount a tmpfs over ${target} in a private mount namespace: ${probe.stderr.trim()}` };
  for (const tool of ['mkfifo', 'setpriv']) {
    if (spawnSync(tool, ['--version']).error) return { ok: false, reason: `${tool} not found (install coreutils/util-linux)` };
  }
  return { ok: true };
}

export interface SimBuild {
  host: string;
  emulator: string;
  dispose(): void;
}

export async function buildSim(): Promise<SimBuild> {
  // Inside the repo's node_modules so the bundles' bare imports (onoff, pino) resolve normally.
  const cache = join(REPO, 'node_modules/.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'pinetd-sysfs-sim-'));
  await build({
    entryPoints: { 'sysfs-sim-host': join(HERE, 'sysfs-sim-host.ts'), 'sysfs-sim': join(HERE, 'sysfs-sim.ts') },
    outdir: dir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'silent',
  });
  return {
    host: join(dir, 'sysfs-sim-host.mjs'),
    emulator: join(dir, 'sysfs-sim.mjs'),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface KernelView {
  events: SimEvent[];
  lines: Record<string, SimLine>;
}

export class SimError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly causeCode: string | undefined,
  ) {
    super(message);
  }
}

export interface Sim {
  call<T = unknown>(op: string, args?: Record<string, unknown>): Promise<T>;
  kernel(): Promise<KernelView>;
  child(ops: Op[], options?: { dropCaps?: boolean }): Promise<{ code: number | null; results: { ok: boolean; result?: unknown; error?: { code?: string; message?: string } }[] }>;
  stop(): Promise<void>;
}

export async function startSim(sim: SimBuild, board: string, options: { exportOwner?: string } = {}): Promise<Sim> {
  const setup: HostSetup = { board: join(BOARDS, board), emulator: sim.emulator, parentMountNs: readlinkSync('/proc/self/ns/mnt'), ...options };
  const proc: ChildProcessWithoutNullStreams = spawn('unshare', ['--mount', '--propagation', 'private', '--', process.execPath, sim.host, JSON.stringify(setup)]);
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const replies = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  let nextId = 1;

  async function call<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = nextId++;
    proc.stdin.write(`${JSON.stringify({ id, op, ...args })}\n`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`sim ${op} timed out; host stderr: ${stderr}`)), 10_000);
    });
    try {
      const next = await Promise.race([replies.next(), timeout]);
      if (next.done) throw new Error(`sim host exited during ${op}; stderr: ${stderr}`);
      const reply = JSON.parse(next.value) as { id: number; ok: boolean; result: T; error: { message: string; code?: string; cause?: { code?: string } } };
      if (reply.id !== id) throw new Error(`sim reply out of order: ${next.value}`);
      if (!reply.ok) throw new SimError(reply.error.message, reply.error.code, reply.error.cause?.code);
      return reply.result;
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    call,
    kernel: () => call<KernelView>('kernel'),
    child: (ops, { dropCaps = false } = {}) => call('child', { ops, dropCaps }),
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.stdin.end();
      const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}
