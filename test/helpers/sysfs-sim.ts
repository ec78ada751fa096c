/**
 * A user-space stand-in for the kernel's sysfs GPIO interface, run as its OWN process inside a
 * private mount namespace whose /sys/class/gpio is a tmpfs (see sysfs-sim-host.ts).
 *
 * Why a separate process: onoff's constructor writes `export`, then spins synchronously in
 * openSync() until `gpioN/value` exists (up to 10000 tries, ~85 ms). Nothing in the writer's
 * process can run during that spin, so the "kernel" must live elsewhere.
 *
 * What it emulates:
 * - gpiochipN/{label,base,ngpio} copied from a fixture board (test/fixtures/sysfs/<board>);
 * - `export`/`unexport` are FIFOs (a regular file would lose back-to-back writes; a FIFO keeps
 *   every byte), watched with inotify (fs.watch) and drained without blocking;
 * - export of a number inside some chip's range creates gpioN/{value,direction,active_low,edge}
 *   atomically (built aside, then renamed in); any other number is ignored and logged as a
 *   rejection;
 * - unexport records the line's final state (direction, active_low, value, physical level)
 *   and removes gpioN;
 * - `level N B` on stdin sets the *physical* input level: value = B xor active_low, as the kernel
 *   reports it.
 *
 * Limits (a tmpfs cannot do what sysfs attribute handlers do):
 * - writes cannot fail: the kernel answers a bad export with EINVAL from write(), here the
 *   number is only ignored, so onoff ends in ENOENT after its spin; EINVAL/EBUSY translation is
 *   tested with an injected Gpio class instead;
 * - writing `direction` does not set the initial raw level (the kernel does: "out"/"low" = raw 0,
 *   "high" = raw 1); tests assert the direction string instead; value files hold logical values;
 * - writes to the same FIFO may coalesce ("529530"); they are split into known line numbers,
 *   which is unambiguous for the 3-digit numbers of >= 6.6 kernels and for the pins tests use.
 *
 * Protocol on stdio: prints `ready` once laid out; stdin `sync` → drains the FIFOs and prints one
 * JSON line {events, lines}; `level N B` → prints `ok`.
 */
import { closeSync, constants, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, watch, writeFileSync, chownSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { execFileSync } from 'node:child_process';

export interface SimChip {
  label: string;
  base: number;
  ngpio: number;
}
export type SimEvent =
  | { type: 'export'; n: number }
  | { type: 'reject'; data: string }
  | { type: 'unexport'; n: number; direction: string; activeLow: boolean; value: number; level: number };
export interface SimLine {
  direction: string;
  activeLow: boolean;
  value: number;
  level: number;
}

export function readBoard(dir: string): SimChip[] {
  return readdirSync(dir)
    .filter((n) => n.startsWith('gpiochip'))
    .map((n) => {
      const read = (f: string) => readFileSync(join(dir, n, f), 'utf8').trim();
      return { label: read('label'), base: Number(read('base')), ngpio: Number(read('ngpio')) };
    });
}

/** Splits coalesced FIFO bytes into numbers from `candidates`, longest match first. */
export function splitNumbers(data: string, candidates: ReadonlySet<number>): number[] | undefined {
  if (data === '') return [];
  for (let len = Math.min(6, data.length); len > 0; len--) {
    const n = Number(data.slice(0, len));
    if (!candidates.has(n) || String(n) !== data.slice(0, len)) continue;
    const rest = splitNumbers(data.slice(len), new Set([...candidates].filter((c) => c !== n)));
    if (rest) return [n, ...rest];
  }
  return undefined;
}

function lineState(root: string, n: number): SimLine {
  const read = (f: string) => readFileSync(join(root, `gpio${n}`, f), 'utf8').trim();
  const activeLow = read('active_low').startsWith('1');
  const value = read('value').startsWith('1') ? 1 : 0;
  return { direction: read('direction'), activeLow, value, level: value ^ (activeLow ? 1 : 0) };
}

function main(root: string, boardDir: string, owner: string | undefined): void {
  const chips = readBoard(boardDir);
  const valid = new Set(chips.flatMap((c) => Array.from({ length: c.ngpio }, (_, i) => c.base + i)));
  const exported = new Set<number>();
  const events: SimEvent[] = [];
  const log = (e: SimEvent) => {
    if (events.length < 10_000) events.push(e);
  };

  for (const c of chips) {
    const dir = join(root, `gpiochip${c.base}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'label'), `${c.label}\n`);
    writeFileSync(join(dir, 'base'), `${c.base}\n`);
    writeFileSync(join(dir, 'ngpio'), `${c.ngpio}\n`);
  }

  const fifos = new Map<'export' | 'unexport', number>();
  for (const name of ['export', 'unexport'] as const) {
    const path = join(root, name);
    // Raspberry Pi OS: root:gpio 0770. `owner` makes us a user outside that owner/group.
    execFileSync('mkfifo', ['-m', '0770', path]);
    if (owner) {
      const [uid, gid] = owner.split(':').map(Number);
      chownSync(path, uid ?? 0, gid ?? 0);
    }
    // O_RDWR: we are always a reader, so writers never block in open() and never get EPIPE.
    fifos.set(name, openSync(path, constants.O_RDWR | constants.O_NONBLOCK));
    watch(path, () => drain(name));
  }

  function exportLine(n: number): void {
    const tmp = join(root, `.gpio${n}.new`);
    mkdirSync(tmp);
    for (const [f, v] of [['value', '0'], ['direction', 'in'], ['active_low', '0'], ['edge', 'none']]) {
      writeFileSync(join(tmp, f as string), `${v}\n`, { mode: 0o664 });
    }
    renameSync(tmp, join(root, `gpio${n}`));
    exported.add(n);
    log({ type: 'export', n });
  }

  function unexportLine(n: number): void {
    log({ type: 'unexport', n, ...lineState(root, n) });
    rmSync(join(root, `gpio${n}`), { recursive: true, force: true });
    exported.delete(n);
  }

  function drain(name: 'export' | 'unexport'): void {
    const fd = fifos.get(name);
    if (fd === undefined) return;
    const buf = Buffer.alloc(4096);
    let data = '';
    for (;;) {
      try {
        const n = readSync(fd, buf, 0, buf.length, null);
        if (n <= 0) break;
        data += buf.toString('latin1', 0, n);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw err;
      }
    }
    data = data.replace(/\s+/g, '');
    if (data === '') return;
    const candidates = name === 'export' ? new Set([...valid].filter((n) => !exported.has(n))) : exported;
    const numbers = splitNumbers(data, candidates);
    if (!numbers) return log({ type: 'reject', data: `${name} ${data}` });
    for (const n of numbers) (name === 'export' ? exportLine : unexportLine)(n);
  }

  const input = createInterface({ input: process.stdin });
  input.on('line', (cmd) => {
    const [word, a, b] = cmd.trim().split(/\s+/);
    if (word === 'sync') {
      drain('export');
      drain('unexport');
      const lines: Record<number, SimLine> = {};
      for (const n of exported) lines[n] = lineState(root, n);
      process.stdout.write(`${JSON.stringify({ events, lines })}\n`);
    } else if (word === 'level') {
      const n = Number(a);
      const { activeLow } = lineState(root, n);
      writeFileSync(join(root, `gpio${n}`, 'value'), `${Number(b) ^ (activeLow ? 1 : 0)}\n`);
      process.stdout.write('ok\n');
    }
  });
  input.on('close', () => {
    for (const fd of fifos.values()) closeSync(fd);
    process.exit(0);
  });
  process.stdout.write('ready\n');
}

if (process.argv[1] && /sysfs-sim\.m?[jt]s$/.test(process.argv[1])) {
  const [root, boardDir, owner] = process.argv.slice(2);
  if (!root || !boardDir) throw new Error('usage: sysfs-sim <gpio root> <fixture board dir> [uid:gid]');
  main(root, boardDir, owner);
}
