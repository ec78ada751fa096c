/**
 * Runs ARM binaries on this x86-64 machine with qemu user-mode emulation (no binfmt_misc, no
 * rootfs): `qemu-aarch64-static -L /usr/aarch64-linux-gnu` finds the ARM loader and libc of
 * Debian's libc6-arm64-cross (armhf: qemu-arm-static, libc6-armhf-cross). QEMU_CPU is a real Pi
 * CPU: qemu's default "max" CPU emulates pointer authentication slowly.
 * The ARM node is the official build from the npm registry (deploy/node-dist.sh).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
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

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A child whose stdout is pino JSON lines; waits on log lines as they arrive (no sleeps). */
export class LoggedProcess {
  readonly proc: ChildProcess;
  readonly logs: LogLine[] = [];
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters = new Set<() => void>();

  constructor(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv) {
    this.proc = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    this.proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          // not a log line; kept in stdout
        }
      }
      this.#wake();
    });
    this.proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        this.#wake();
        resolve({ code, signal });
      });
    });
  }

  async waitForMsg(msg: string, timeoutMs: number): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.logs.find((l) => l.msg === msg);
      if (found) return found;
      if (this.proc.exitCode !== null || this.proc.signalCode !== null || Date.now() > deadline) {
        throw new Error(
          `log line "${msg}" not seen within ${timeoutMs} ms (exit ${this.proc.exitCode ?? this.proc.signalCode}); stdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
        );
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(1, deadline - Date.now()));
        this.#waiters.add(done);
      });
    }
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }
}

/** A native TCP client reading whole lines. */
export class LineClient {
  readonly socket: net.Socket;
  readonly closed: Promise<void>;
  #lines: string[] = [];
  #partial = '';
  #waiter: (() => void) | undefined;
  #ended = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      const parts = (this.#partial + chunk).split('\n');
      this.#partial = parts.pop() ?? '';
      this.#lines.push(...parts);
      this.#waiter?.();
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#ended = true;
        this.#waiter?.();
        resolve();
      }),
    );
    socket.on('error', () => undefined); // surfaces as 'close'
  }

  static connect(port: number, host = '127.0.0.1'): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host);
      socket.once('connect', () => resolve(new LineClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Next line from the server, failing after timeoutMs or when the connection closes. */
  async next(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.#lines.length === 0) {
      if (this.#ended) throw new Error('connection closed while waiting for a line');
      if (Date.now() > deadline) throw new Error(`no line within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.#waiter = () => {
          clearTimeout(timer);
          this.#waiter = undefined;
          resolve();
        };
      });
    }
    return this.#lines.shift()!;
  }

  async request(line: string, timeoutMs: number): Promise<string> {
    this.socket.write(`${line}\n`);
    return this.next(timeoutMs);
  }
}
