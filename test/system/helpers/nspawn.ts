/**
 * A real systemd (the host's own /usr) booted in systemd-nspawn, for testing the unit file.
 * Follows /work/shared/notes/real-systemd.md: the host's PID 1 is not systemd, so
 * - the container gets its own cgroup directories before nspawn starts (else nspawn puts
 *   payload/ and supervisor/ in the root cgroup and two containers collide);
 * - `-D / --volatile=yes`: a tmpfs root with the host's /usr read-only;
 * - `--register=no --keep-unit`: there is no host machined/systemd to register with;
 * - `systemd.firstboot=off` (firstboot would wait at a prompt) and `systemd.unit=basic.target`
 *   (first-boot presets would enable every host unit);
 * - everything is driven with `nsenter -t <container systemd> -a` (`systemctl -M` needs a host systemd).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Bind {
  readonly host: string;
  readonly container: string;
}

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

export interface Container {
  readonly name: string;
  /** PID of the container's systemd, as seen from the host. */
  readonly leader: number;
  /** Runs a command inside all of the container's namespaces. Never rejects on a non-zero exit. */
  exec(argv: readonly string[], timeoutMs?: number): Promise<ExecResult>;
  /** Like exec, but rejects with stdout/stderr when the command fails. */
  check(argv: readonly string[], timeoutMs?: number): Promise<string>;
  /** Writes a file into the container's (tmpfs) root, creating parent directories. */
  writeFile(path: string, content: string, mode?: number): void;
  /** `systemctl show UNIT -p ...` as an object; timestamps as `Sun 2026-11-22 04:33:35.123456 UTC`. */
  show(unit: string, props: readonly string[]): Promise<Record<string, string>>;
  /** Powers the container off and removes its cgroups. Idempotent; never rejects. */
  destroy(): Promise<void>;
  /** nspawn's own output (boot messages), for failure diagnostics. */
  consoleLog(): string;
}

/** Prerequisites that make the test fail (not skip) when system tests were asked for. */
export function missingPrerequisites(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('must run as root (systemd-nspawn needs it)');
  for (const bin of ['systemd-nspawn', 'nsenter', 'systemctl', 'journalctl']) {
    if (!['/usr/bin', '/bin', '/usr/sbin', '/sbin'].some((d) => existsSync(join(d, bin)))) {
      missing.push(`${bin} not found (apt-get install systemd-container util-linux)`);
    }
  }
  if (cgroupRoots().length === 0) missing.push('no writable cgroup hierarchy under /sys/fs/cgroup');
  return missing;
}

/** The cgroup hierarchies the container needs a directory in: pure v2, or v1 name=systemd + v2 unified. */
function cgroupRoots(): string[] {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return ['/sys/fs/cgroup'];
  return ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified'].filter((d) => existsSync(join(d, 'cgroup.procs')));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns a value other than undefined, or throws after timeoutMs. */
export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

function comm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Depth-first list of a cgroup directory and its descendants, deepest first. */
function cgroupTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const subdirs = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory());
  return [...subdirs.flatMap((e) => cgroupTree(join(dir, e.name))), dir];
}

function killCgroups(dirs: readonly string[]): void {
  for (const dir of dirs) {
    for (const cg of cgroupTree(dir)) {
      let pids: string[] = [];
      try {
        pids = readFileSync(join(cg, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
      } catch {
        continue;
      }
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }
}

function removeCgroups(dirs: readonly string[]): string[] {
  const left: string[] = [];
  for (const dir of dirs) {
    for (const cg of cgroupTree(dir)) {
      try {
        rmdirSync(cg);
      } catch {
        if (existsSync(cg)) left.push(cg);
      }
    }
  }
  return left;
}

export interface BootOptions {
  /** Machine name; also the cgroup directory name. Unique per run. */
  readonly name: string;
  readonly bindRo?: readonly Bind[];
  /** Where nspawn's console output goes (kept for diagnostics). */
  readonly consoleFile: string;
  readonly bootTimeoutMs?: number;
}

export async function bootContainer({ name, bindRo = [], consoleFile, bootTimeoutMs = 20_000 }: BootOptions): Promise<Container> {
  const cgroups = cgroupRoots().map((root) => join(root, name));
  for (const dir of cgroups) mkdirSync(dir, { recursive: true });

  const args = [
    '-q', '-D', '/', '--volatile=yes', '-M', name, '--boot', '--register=no', '--keep-unit', '--console=passive',
    ...bindRo.map((b) => `--bind-ro=${b.host}:${b.container}`),
    '--', 'systemd.unit=basic.target', 'systemd.firstboot=off',
  ];
  // The shell moves itself into the new cgroups, then becomes nspawn (same PID).
  const script = [...cgroups.map((dir) => `echo $$ > '${dir}/cgroup.procs'`), 'exec systemd-nspawn "$@"'].join(' && ');
  mkdirSync(dirname(consoleFile), { recursive: true });
  const out = openSync(consoleFile, 'w');
  let nspawn: ChildProcess;
  try {
    // detached: a session of its own, so nspawn does not share our controlling terminal/signals.
    nspawn = spawn('/bin/sh', ['-c', script, 'sh', ...args], { detached: true, stdio: ['ignore', out, out] });
  } finally {
    closeSync(out);
  }
  const exited = new Promise<void>((resolve) => {
    if (nspawn.exitCode !== null || nspawn.signalCode !== null) resolve();
    else nspawn.once('exit', () => resolve());
  });
  nspawn.once('error', () => {});
  const nspawnPid = nspawn.pid ?? -1;

  let destroyed = false;
  let leader = -1;
  const consoleLog = (): string => {
    try {
      return readFileSync(consoleFile, 'utf8');
    } catch {
      return '';
    }
  };

  // Last resort if the test runner dies without afterAll: no container outlives it.
  const onExit = (): void => killCgroups(cgroups);
  process.once('exit', onExit);

  async function destroy(): Promise<void> {
    if (destroyed) return;
    destroyed = true;
    process.off('exit', onExit);
    if (leader > 0 && nspawn.exitCode === null) {
      await run('nsenter', ['-t', String(leader), '-a', 'systemctl', 'poweroff', '--no-block'], { timeout: 5000 }).catch(() => {});
    }
    const gone = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
    if (!gone) {
      try {
        process.kill(-nspawnPid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    // Anything still in the cgroups is ours (the cgroups were created for this container).
    for (let attempt = 0; attempt < 50; attempt++) {
      killCgroups(cgroups);
      if (removeCgroups(cgroups).length === 0) {
        rmSync(consoleFile, { force: true });
        return;
      }
      await sleep(100);
    }
    throw new Error(`could not remove cgroups: ${removeCgroups(cgroups).join(', ')}`);
  }

  const exec = async (argv: readonly string[], timeoutMs = 15_000): Promise<ExecResult> => {
    try {
      const { stdout, stderr } = await run('nsenter', ['-t', String(leader), '-a', ...argv], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
      return { stdout, stderr, code: 0 };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; code?: number | string; message: string };
      if (typeof e.code !== 'number') throw err; // spawn failure or timeout, not an exit status
      return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: e.code };
    }
  };

  const container: Container = {
    name,
    get leader() {
      return leader;
    },
    exec,
    async check(argv, timeoutMs) {
      const r = await exec(argv, timeoutMs);
      if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}\n${r.stdout}${r.stderr}`);
      return r.stdout;
    },
    writeFile(path, content, mode = 0o644) {
      const target = `/proc/${leader}/root${path}`;
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, content, { mode });
    },
    async show(unit, props) {
      const out = await container.check(['systemctl', 'show', '--timestamp=us+utc', unit, ...props.map((p) => `--property=${p}`)]);
      return Object.fromEntries(out.split('\n').filter(Boolean).map((line) => {
        const i = line.indexOf('=');
        return [line.slice(0, i), line.slice(i + 1)];
      }));
    },
    destroy,
    consoleLog,
  };

  try {
    leader = await waitFor('the container systemd', () => {
      if (nspawn.exitCode !== null) throw new Error(`systemd-nspawn exited ${nspawn.exitCode}:\n${consoleLog()}`);
      const pid = childPids(nspawnPid).find((p) => comm(p) === 'systemd');
      return pid !== undefined && existsSync(`/proc/${pid}/root/run/systemd/private`) ? pid : undefined;
    }, bootTimeoutMs);
    // Returns within a second here; `degraded` (a host unit that cannot run in a container) is fine.
    await exec(['systemctl', 'is-system-running', '--wait'], bootTimeoutMs);
    return container;
  } catch (err) {
    const boot = consoleLog();
    await destroy().catch(() => {});
    throw new Error(`container ${name} did not boot: ${(err as Error).message}\n--- nspawn console ---\n${boot}`, { cause: err });
  }
}
