/**
 * What is not configured costs nothing: no module loaded for it. Checked in a real daemon
 * child process through a preload that lists the CommonJS packages it loaded.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FIXTURES, MAIN } from '../helpers/daemon.js';

function exportWritable(): boolean {
  try {
    accessSync('/sys/class/gpio/export', constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Starts the daemon, waits for `listening`, sends SIGTERM and returns the packages it had loaded. */
function loadedBy(args: string[], env: Record<string, string> = {}): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', `${FIXTURES}preload/loaded-modules.cjs`, MAIN, '--port', '0', '--pause-every', '0', ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('"msg":"listening"')) child.kill('SIGTERM');
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', () => {
      const line = /loaded-modules (.*)/.exec(err)?.[1];
      if (line === undefined) reject(new Error(`no module list; stdout:\n${out}\nstderr:\n${err}`));
      else resolve(JSON.parse(line) as string[]);
    });
  });
}

describe('start-up footprint', () => {
  it('with the mock backend and no NOTIFY_SOCKET, neither onoff (nor its native addon) nor systemd-notify is loaded', async () => {
    const loaded = await loadedBy(['--gpio', 'mock']);
    for (const name of ['onoff', 'epoll', 'systemd-notify', 'pino-pretty', 'mqtt']) expect(loaded, name).not.toContain(name);
  });

  it('under systemd (NOTIFY_SOCKET set) systemd-notify is loaded: the list above can see a package', async () => {
    // pino and our code are in the bundle; the packages outside it are what the list can show.
    const loaded = await loadedBy(['--gpio', 'mock'], { NOTIFY_SOCKET: '/run/pinetd-test-no-such-socket' });
    expect(loaded).toContain('systemd-notify');
    expect(loaded).not.toContain('onoff');
  });

  it.skipIf(exportWritable())('--gpio auto where sysfs GPIO is absent falls back to the mock without loading onoff', async () => {
    const loaded = await loadedBy(['--gpio', 'auto']);
    expect(loaded).not.toContain('onoff');
    expect(loaded).not.toContain('epoll');
  });
});
