/**
 * Runs the built daemon (dist/) as a real child process, parses its pino JSON lines, and
 * lets tests wait for a log line, signal it, and time its exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'vitest';
import { LineClient } from './client.js';

export const MAIN = fileURLToPath(new URL('../../dist/cli/pinetd.cjs', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** ms from the moment `exitTimer()` was last called (or spawn) to exit. */
  ms: number;
}

export class DaemonProcess {
  readonly proc: ChildProcess;
  readonly logs: LogLine[] = [];
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  #waiters: Array<() => void> = [];
  #t0 = performance.now();

  /** Runs `node dist/cli/pinetd.cjs ARGS`, or exactly `launch` when given (e.g. ARM node under qemu). */
  constructor(args: string[], env: Record<string, string> = {}, launch?: { cmd: string; args: string[]; env: NodeJS.ProcessEnv }) {
    this.proc = spawn(launch?.cmd ?? process.execPath, launch?.args ?? [MAIN, ...args], {
      env: launch?.env ?? { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let partial = '';
    this.proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      partial += chunk;
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          // non-JSON stdout (help, print-config): kept in this.stdout
        }
      }
      this.#wake();
    });
    this.proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      // 'close' (not 'exit'): by then stdout and stderr have been read to the end.
      this.proc.once('close', (code, signal) => {
        this.#wake();
        resolve({ code, signal, ms: performance.now() - this.#t0 });
      });
    });
  }

  /** Restart the clock `exited.ms` is measured from (call right before kill()). */
  exitTimer(): void {
    this.#t0 = performance.now();
  }

  kill(signal: NodeJS.Signals): void {
    this.proc.kill(signal);
  }

  /** Resolves with the first log line matching, failing after timeoutMs with what was logged. */
  async waitFor(match: (l: LogLine) => boolean, timeoutMs = 5000): Promise<LogLine> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.logs.find(match);
      if (found) return found;
      if (this.proc.exitCode !== null || performance.now() > deadline) {
        throw new Error(`log line not seen (exit ${this.proc.exitCode}); logs:\n${this.stdout}\nstderr:\n${this.stderr}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - performance.now()));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  waitForMsg(msg: string, timeoutMs?: number): Promise<LogLine> {
    return this.waitFor((l) => l.msg === msg, timeoutMs);
  }

  /** Waits for `listening` and returns the port. */
  async ready(timeoutMs = 10_000): Promise<number> {
    const line = await this.waitForMsg('listening', timeoutMs);
    return line.port as number;
  }

  messages(msg: string): LogLine[] {
    return this.logs.filter((l) => l.msg === msg);
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

/** Starts the daemon on a free port with test-friendly defaults; returns it with its port. */
export async function startDaemon(args: string[] = [], env: Record<string, string> = {}): Promise<{ daemon: DaemonProcess; port: number }> {
  const daemon = new DaemonProcess(['--port', '0', '--gpio', 'mock', ...args], env);
  const port = await daemon.ready();
  return { daemon, port };
}

/**
 * A daemon for one test only (tests run concurrently), killed with its clients when the test
 * ends; `connect(from)` picks the client's source address (127.0.0.2 is loopback too).
 */
export async function daemonForTest({ onTestFinished }: TestContext, args: string[]): Promise<{ daemon: DaemonProcess; port: number; connect: (from?: string) => Promise<LineClient> }> {
  const { daemon, port } = await startDaemon(['--pause-every', '0', ...args]);
  const clients: LineClient[] = [];
  onTestFinished(() => {
    for (const c of clients) c.close();
    daemon.kill('SIGKILL');
  });
  const connect = async (from?: string) => {
    const c = await LineClient.connect(port, '127.0.0.1', from);
    clients.push(c);
    return c;
  };
  return { daemon, port, connect };
}
