/**
 * One emulated Raspberry Pi 3 (qemu-system-aarch64 -M raspi3b) booted from an initramfs, driven
 * from the host over two channels:
 * - the serial console (QEMU's stdio): the guest's /init runs a busybox shell loop that runs
 *   each line (`sh -c`) the host writes and answers `@@RC <n> <status>`; background daemons' pino JSON
 *   lines arrive on the same console;
 * - QMP (`human-monitor-command` `xp`), to read the emulated BCM2835 GPIO registers: the pins'
 *   real levels and functions as the guest kernel's pinctrl-bcm2835 driver set them.
 * Every wait is on a console line or a QMP reply, bounded; QEMU is killed by its PID on timeout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import type { Kernel } from './pi-image.js';

/** BCM2837 GPIO registers, as seen by the ARM cores (peripheral base 0x3f000000). */
export const GPIO_BASE = 0x3f200000;
export const GPLEV0 = GPIO_BASE + 0x34;
/** GPFSELn: 3 function bits per pin, 10 pins per register; 0 = input, 1 = output. */
export function gpfsel(pin: number): { addr: number; shift: number } {
  return { addr: GPIO_BASE + 4 * Math.floor(pin / 10), shift: 3 * (pin % 10) };
}

/** A free TCP port on 127.0.0.1 for a hostfwd. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

interface Waiter {
  readonly match: (line: string) => boolean;
  readonly resolve: (line: string) => void;
  readonly fail: (why: string) => void;
}

export interface BootOptions {
  readonly kernel: Kernel;
  readonly initrd: string;
  /** The device tree (consoleDtb: a copy without the Bluetooth node). */
  readonly dtb: string;
  readonly qmpSocket: string;
  /** Kernel command line after the console (default: boot the initramfs's /init). */
  readonly append?: string;
  /** An SD card image (qcow2). */
  readonly sdCard?: string;
  /** host port -> guest port, on 127.0.0.1 only. */
  readonly forwards: ReadonlyArray<readonly [number, number]>;
  /** QEMU is SIGKILLed after this long, whatever happens. */
  readonly lifetimeMs: number;
}

export class EmulatedPi {
  readonly proc: ChildProcess;
  /** Every console line (CR stripped), in order. */
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly startedAt = performance.now();
  #partial = '';
  #waiters: Waiter[] = [];
  #seq = 0;
  #qmp: Promise<Qmp> | undefined;
  #qmpSocket: string;
  #killTimer: NodeJS.Timeout;

  constructor(opts: BootOptions) {
    const hostfwd = opts.forwards.map(([h, g]) => `hostfwd=tcp:127.0.0.1:${h}-:${g}`).join(',');
    this.#qmpSocket = opts.qmpSocket;
    // -accel tcg,thread=single: multi-threaded TCG made the boot several times slower (note)
    this.proc = spawn(
      'qemu-system-aarch64',
      [
        ...['-accel', 'tcg,thread=single', '-M', 'raspi3b', '-m', '1G'],
        ...['-kernel', opts.kernel.vmlinuz, '-dtb', opts.dtb, '-initrd', opts.initrd],
        ...['-append', `console=ttyAMA0,115200 ${opts.append ?? 'rdinit=/init loglevel=1'}`],
        ...(opts.sdCard ? ['-drive', `if=sd,format=qcow2,file=${opts.sdCard}`] : []),
        ...['-netdev', `user,id=n0,${hostfwd}`, '-device', 'usb-net,netdev=n0'],
        ...['-no-reboot', '-serial', 'stdio', '-display', 'none', '-monitor', 'none'],
        ...['-qmp', `unix:${opts.qmpSocket},server=on,wait=off`],
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.#killTimer = setTimeout(() => this.kill(), opts.lifetimeMs);
    this.proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.#onData(chunk));
    this.proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => this.#onData(chunk));
    this.exited = new Promise((resolve) =>
      this.proc.once('exit', (code, signal) => {
        clearTimeout(this.#killTimer);
        void this.#qmp?.then((q) => q.close(), () => undefined);
        resolve({ code, signal });
      }),
    );
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** SIGKILL by PID (idempotent). */
  kill(): void {
    if (this.running && this.proc.pid !== undefined) process.kill(this.proc.pid, 'SIGKILL');
  }

  console(): string {
    return this.lines.join('\n');
  }

  #onData(chunk: string): void {
    this.#partial += chunk.replace(/\r/g, '');
    const parts = this.#partial.split('\n');
    this.#partial = parts.pop() ?? '';
    for (const line of parts) {
      this.lines.push(line);
      if (line.includes('Kernel panic - not syncing')) {
        // the guest is gone for good: fail every wait now rather than at its timeout
        for (const w of this.#waiters) w.fail('guest kernel panic');
        this.#waiters = [];
        this.kill();
        continue;
      }
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.match(line)) return true;
        w.resolve(line);
        return false;
      });
    }
  }

  /** The first console line from index `from` on that matches, within timeoutMs. */
  waitLine(match: (line: string) => boolean, timeoutMs: number, what: string, from = 0): Promise<string> {
    const seen = this.lines.slice(from).find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    if (!this.running) return Promise.reject(new Error(`${what}: QEMU is not running; console tail:\n${this.lines.slice(-40).join('\n')}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`${what}: not seen within ${timeoutMs} ms; console tail:\n${this.lines.slice(-40).join('\n')}`));
      }, timeoutMs);
      const fail = (why: string): void => {
        clearTimeout(timer);
        this.proc.off('exit', onExit);
        reject(new Error(`${what}: ${why}; console tail:\n${this.lines.slice(-40).join('\n')}`));
      };
      const onExit = (): void => fail('QEMU exited');
      this.proc.once('exit', onExit);
      const waiter: Waiter = {
        match,
        resolve: (line) => {
          clearTimeout(timer);
          this.proc.off('exit', onExit);
          resolve(line);
        },
        fail,
      };
      this.#waiters.push(waiter);
    });
  }

  /** Runs a shell command line in the guest; resolves with its status and the console lines it printed. */
  async sh(command: string, timeoutMs = 60_000): Promise<{ status: number; output: string[] }> {
    const n = ++this.#seq;
    const from = this.lines.length;
    this.proc.stdin!.write(`${command}; echo "@@RC ${n} $?"\n`);
    const marker = `@@RC ${n} `;
    const done = await this.waitLine((l) => l.startsWith(marker), timeoutMs, `guest command ${JSON.stringify(command)}`, from);
    const end = this.lines.indexOf(done, from);
    // pino lines from a background daemon may interleave: they are not this command's output
    const output = this.lines.slice(from, end).filter((l) => !l.startsWith('{"level"'));
    return { status: Number(done.slice(marker.length)), output };
  }

  /** Reads a 32-bit word of guest physical memory through QMP. */
  async readWord(addr: number): Promise<number> {
    this.#qmp ??= Qmp.connect(this.#qmpSocket);
    const text = await (await this.#qmp).hmp(`xp /1wx 0x${addr.toString(16)}`);
    const value = /:\s*0x([0-9a-f]+)/i.exec(text)?.[1];
    if (value === undefined) throw new Error(`unexpected xp reply ${JSON.stringify(text)}`);
    return parseInt(value, 16);
  }

  /** The level of BCM pin `pin` (0-31) in GPLEV0. */
  async level(pin: number): Promise<0 | 1> {
    return ((await this.readWord(GPLEV0)) >>> pin) & 1 ? 1 : 0;
  }

  /** The 3-bit function of BCM pin `pin` (0 input, 1 output, 4-7 alternate functions). */
  async pinFunction(pin: number): Promise<number> {
    const { addr, shift } = gpfsel(pin);
    return ((await this.readWord(addr)) >>> shift) & 7;
  }

  /** Ends the guest: `reboot -f` (bcm2835_wdt loaded, -no-reboot) makes QEMU exit; SIGKILL if it does not. */
  async shutdown(timeoutMs = 30_000): Promise<void> {
    if (!this.running) return;
    this.proc.stdin!.write('reboot -f\n');
    const timer = setTimeout(() => this.kill(), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** A minimal QMP client: capabilities negotiation, then human-monitor-command, one at a time. */
class Qmp {
  #socket: net.Socket;
  #buf = '';
  #pending: Array<(msg: Record<string, unknown>) => void> = [];
  #chain: Promise<unknown> = Promise.resolve();

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#buf += chunk;
      let i: number;
      while ((i = this.#buf.indexOf('\n')) >= 0) {
        const line = this.#buf.slice(0, i).trim();
        this.#buf = this.#buf.slice(i + 1);
        if (line === '') continue;
        const msg = JSON.parse(line) as Record<string, unknown>;
        if ('event' in msg || 'QMP' in msg) continue;
        this.#pending.shift()?.(msg);
      }
    });
    socket.on('error', () => {});
  }

  static async connect(path: string): Promise<Qmp> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(path);
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
    const qmp = new Qmp(socket);
    await qmp.#execute({ execute: 'qmp_capabilities' });
    return qmp;
  }

  #execute(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    const next = this.#chain.then(
      () =>
        new Promise<Record<string, unknown>>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`QMP ${JSON.stringify(cmd)}: no reply within 10 s`)), 10_000);
          this.#pending.push((msg) => {
            clearTimeout(timer);
            if ('error' in msg) reject(new Error(`QMP ${JSON.stringify(cmd)}: ${JSON.stringify(msg.error)}`));
            else resolve(msg);
          });
          this.#socket.write(`${JSON.stringify(cmd)}\n`);
        }),
    );
    this.#chain = next.catch(() => undefined);
    return next;
  }

  async hmp(commandLine: string): Promise<string> {
    const reply = await this.#execute({ execute: 'human-monitor-command', arguments: { 'command-line': commandLine } });
    return typeof reply.return === 'string' ? reply.return : '';
  }

  close(): void {
    this.#socket.destroy();
  }
}
