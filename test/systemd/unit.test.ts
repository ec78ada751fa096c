/**
 * Offline checks of systemd/: the unit lints clean, its sandbox score does not regress, it agrees
 * with the code (exit status, timeouts, entry point), and the sample config is one the daemon
 * accepts. The unit's runtime behaviour is covered by test/system/systemd.test.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { DEFAULTS } from '../../src/config/options.js';
import { EX_CONFIG } from '../../src/errors.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const UNIT_TEXT = readFileSync(join(ROOT, 'systemd/pinetd.service'), 'utf8');
const HAVE_ANALYZE = spawnSync('systemd-analyze', ['--version']).status === 0;

/** Values of a [Service]/[Unit] key, in file order. */
function values(key: string): string[] {
  return [...UNIT_TEXT.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!.trim());
}

function seconds(text: string): number {
  const m = /^(\d+)(s|min)?$/.exec(text);
  if (!m) throw new Error(`unexpected time span ${text}`);
  return Number(m[1]) * (m[2] === 'min' ? 60 : 1);
}

const scratch = mkdtempSync(join(tmpdir(), 'pinetd-unit-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * A copy to lint: verify fails on an ExecStart binary that does not exist, so on a machine
 * whose node is not /usr/bin/node the copy names the running node instead. Nothing else changes.
 */
function lintableCopy(): string {
  const text = existsSync('/usr/bin/node') ? UNIT_TEXT : UNIT_TEXT.replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `);
  const path = join(scratch, 'pinetd.service');
  writeFileSync(path, text);
  return path;
}

describe.skipIf(!HAVE_ANALYZE)(HAVE_ANALYZE ? 'systemd-analyze' : 'systemd-analyze (skipped: not installed; needs Linux with systemd)', () => {
  it('verify prints nothing (it exits 0 even on unknown keys, so any output is a failure)', () => {
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', lintableCopy()], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  });

  it('security exposure stays at 1.5 or better', () => {
    const out = execFileSync('systemd-analyze', ['security', '--offline=true', '--no-pager', lintableCopy()], { encoding: 'utf8' });
    const level = Number(/Overall exposure level for pinetd\.service: ([\d.]+)/.exec(out)?.[1]);
    expect(level).toBeLessThanOrEqual(1.5);
  });
});

describe('the unit agrees with the code', () => {
  it('never restarts on a configuration error (exit 78) but does on other failures', () => {
    expect(values('Restart')).toEqual(['on-failure']);
    expect(values('RestartPreventExitStatus')).toEqual([String(EX_CONFIG)]);
  });

  it('gives the shutdown countdown and the last task time to finish before SIGKILL', () => {
    const stopS = seconds(values('TimeoutStopSec')[0]!);
    expect(stopS * 1000).toBeGreaterThan(DEFAULTS.shutdownGrace + DEFAULTS.taskTimeout);
  });

  it('runs the package entry point with the installed config, as a notify service with a watchdog', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: { pinetd: string } };
    expect(values('ExecStart')).toEqual([`/usr/bin/node /opt/pinetd/${pkg.bin.pinetd} --config /etc/pinetd/config.json --state-dir /var/lib/pinetd`]);
    expect(values('StateDirectory')).toEqual(['pinetd']);
    expect(values('Type')).toEqual(['notify']);
    // The notify messages come from systemd-notify children (src/systemd/notify.ts).
    expect(values('NotifyAccess')).toEqual(['all']);
    expect(values('KillMode')).toEqual(['mixed']);
    expect(values('WatchdogSec')).toHaveLength(1);
    // V8's JIT cannot run with it.
    expect(values('MemoryDenyWriteExecute')).toEqual([]);
  });

  it('ships a sample config the daemon accepts', () => {
    const path = join(ROOT, 'systemd/config.example.json');
    const loaded = loadConfig({ argv: ['--config', path], env: {} });
    expect(loaded.action).toBe('run');
    if (loaded.action !== 'run') return;
    expect(loaded.warnings).toEqual([]);
    expect(loaded.config).toMatchObject({ host: '0.0.0.0', port: 9999, pauseEvery: 5000, task: 'board', shutdownGrace: 5000, gpio: 'auto' });
  });
});
