/**
 * The "board" side of the sysfs simulation. Started by sysfs-sim-client.ts as
 * `unshare --mount --propagation private -- node sysfs-sim-host.mjs <setup>`, it:
 *  1. mounts a tmpfs over /sys/class/gpio (over /sys/class when this machine has no
 *     /sys/class/gpio), visible only inside its private mount namespace;
 *  2. starts the kernel stand-in (sysfs-sim.ts) as a separate, higher-priority process;
 *  3. runs the REAL onoff module and our backend (src/gpio) against it, driven by JSON-line
 *     requests on stdin ({id, op, ...} → {id, ok, result | error}).
 * With `--child` it instead runs a list of ops in a fresh process (used for the permission and
 * process-exit scenarios) and prints one JSON line per op.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { createInterface } from 'node:readline';
import { pino, type Logger } from 'pino';
import { createOnoffBackend, loadOnoff } from '../../src/gpio/onoff.js';
import { selectGpioBackend } from '../../src/gpio/select.js';
import { resolveGpioChip } from '../../src/gpio/sysfs.js';
import type { GpioBackend, GpioLine } from '../../src/gpio/types.js';

const ROOT = '/sys/class/gpio';

export interface HostSetup {
  /** Absolute path of a fixture board, e.g. test/fixtures/sysfs/pi5. */
  board: string;
  /** Bundled sysfs-sim.ts. */
  emulator: string;
  /** uid:gid owning export/unexport (permission scenario). */
  exportOwner?: string;
  /** The starting process's /proc/self/ns/mnt, which ours must differ from. */
  parentMountNs: string;
}
export type Op = { op: string; [k: string]: unknown };

interface Ctx {
  backend?: GpioBackend;
  lines: Map<number, GpioLine>;
  logs: unknown[];
  log: Logger;
}

function newCtx(): Ctx {
  const logs: unknown[] = [];
  const log = pino({ level: 'debug', base: null }, { write: (s: string) => void logs.push(JSON.parse(s)) });
  return { lines: new Map(), logs, log };
}

export function serializeError(err: unknown): Record<string, unknown> {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  return { name: e?.name, code: e?.code, message: e?.message ?? String(err), cause: e?.cause && { code: e.cause.code, message: e.cause.message } };
}

async function runOp(ctx: Ctx, msg: Op): Promise<unknown> {
  const pin = msg.pin as number;
  const line = () => {
    const l = ctx.lines.get(pin);
    if (!l) throw new Error(`test bug: BCM ${pin} not opened`);
    return l;
  };
  switch (msg.op) {
    case 'start': {
      const chip = resolveGpioChip({ chipLabel: (msg.chipLabel as string) ?? null, base: (msg.base as number) ?? null });
      ctx.backend = createOnoffBackend({ chip, log: ctx.log });
      return chip;
    }
    case 'open':
      if (!ctx.backend) throw new Error('test bug: start first');
      ctx.lines.set(pin, ctx.backend.open(pin, msg.direction as 'in' | 'out', { activeLow: msg.activeLow === true }));
      return null;
    case 'write':
      return line().write(msg.value as 0 | 1);
    case 'read':
      return line().read();
    case 'closeLine':
      return line().close();
    case 'close':
      return ctx.backend?.close();
    case 'accessible':
      return loadOnoff().Gpio.accessible;
    case 'select': {
      const backend = selectGpioBackend({ mode: msg.mode as 'auto' | 'onoff' | 'mock', log: ctx.log });
      backend.close();
      return backend.name;
    }
    case 'logs':
      return ctx.logs;
    case 'exitWithOpenLines':
      // What the daemon does: release GPIO from a synchronous 'exit' handler.
      process.on('exit', () => ctx.backend?.close());
      process.exit(0);
      break;
    default:
      throw new Error(`unknown op ${msg.op}`);
  }
  return undefined;
}

async function child(): Promise<void> {
  const ctx = newCtx();
  for (const msg of JSON.parse(process.env.PINETD_SIM_OPS ?? '[]') as Op[]) {
    try {
      process.stdout.write(`${JSON.stringify({ ok: true, result: (await runOp(ctx, msg)) ?? null })}\n`);
    } catch (err) {
      process.stdout.write(`${JSON.stringify({ ok: false, error: serializeError(err) })}\n`);
    }
  }
}

async function host(setup: HostSetup): Promise<void> {
  // Refuse to mount anything unless we really are in a mount namespace of our own.
  if (readlinkSync('/proc/self/ns/mnt') === setup.parentMountNs) {
    throw new Error('sysfs-sim-host must run under unshare --mount --propagation private');
  }
  const target = existsSync(ROOT) ? ROOT : '/sys/class';
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'pinetd-sysfs-sim', target]);
  if (target !== ROOT) mkdirSync(ROOT);

  const emulator = spawn(process.execPath, [setup.emulator, ROOT, setup.board, ...(setup.exportOwner ? [setup.exportOwner] : [])], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  // The emulator must win the race against onoff's ~85 ms spin even on a loaded CI machine.
  try {
    if (emulator.pid) setPriority(emulator.pid, -10);
  } catch {
    // Not fatal: the spin is usually ample.
  }
  const replies = createInterface({ input: emulator.stdout })[Symbol.asyncIterator]();
  const ask = async (cmd?: string) => {
    if (cmd) emulator.stdin.write(`${cmd}\n`);
    const next = await replies.next();
    if (next.done) throw new Error('sysfs emulator exited');
    return next.value;
  };
  if ((await ask()) !== 'ready') throw new Error('sysfs emulator did not start');

  const ctx = newCtx();
  for await (const text of createInterface({ input: process.stdin })) {
    const msg = JSON.parse(text) as Op & { id: number };
    let reply: Record<string, unknown>;
    try {
      let result: unknown;
      if (msg.op === 'kernel') result = JSON.parse(await ask('sync'));
      else if (msg.op === 'level') result = await ask(`level ${msg.n as number} ${msg.level as number}`);
      else if (msg.op === 'child') result = await runChild(msg);
      else result = await runOp(ctx, msg);
      reply = { id: msg.id, ok: true, result: result ?? null };
    } catch (err) {
      reply = { id: msg.id, ok: false, error: serializeError(err) };
    }
    process.stdout.write(`${JSON.stringify(reply)}\n`);
  }
  ctx.backend?.close();
  emulator.stdin.end();
}

/** Runs ops in a fresh process, optionally without CAP_DAC_OVERRIDE so file modes apply to root. */
function runChild(msg: Op): Promise<{ code: number | null; results: unknown[] }> {
  const self = process.argv[1] as string;
  const [cmd, args] = msg.dropCaps
    ? ['setpriv', ['--bounding-set', '-dac_override,-dac_read_search', '--inh-caps', '-all', '--', process.execPath, self, '--child']]
    : [process.execPath, [self, '--child']];
  const proc = spawn(cmd as string, args as string[], {
    env: { ...process.env, PINETD_SIM_OPS: JSON.stringify(msg.ops) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code) => resolve({ code, results: out.split('\n').filter(Boolean).map((l) => JSON.parse(l)) }));
  });
}

if (process.argv.includes('--child')) {
  await child();
} else {
  await host(JSON.parse(process.argv[2] ?? '{}') as HostSetup);
}
