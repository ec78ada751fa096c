/**
 * Off costs nothing (MQTT.js is never loaded: seen through a loader hook),
 * and a bad MQTT setting is exit 78 before any socket.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DaemonProcess, MAIN } from '../../helpers/daemon.js';
import { freePort } from './broker.js';

const TRACE = fileURLToPath(new URL('./fixtures/trace-loads.mjs', import.meta.url));

/** The daemon's resolved module URLs, once it listens (then SIGTERM). */
async function loadedModules(args: string[]): Promise<string[]> {
  const file = join(mkdtempSync(join(tmpdir(), 'pinetd-trace-')), 'loads.txt');
  const env = { PATH: process.env.PATH ?? '', PINETD_TRACE_LOADS: file };
  const daemon = new DaemonProcess([], {}, { cmd: process.execPath, args: ['--import', TRACE, MAIN, '--port', '0', '--gpio', 'mock', '--pause-every', '0', ...args], env });
  await daemon.ready();
  if (args.includes('--mqtt')) await daemon.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('mqtt cannot connect'));
  daemon.kill('SIGTERM');
  expect((await daemon.exited).code).toBe(0);
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

async function configFails(args: string[]): Promise<string> {
  const daemon = new DaemonProcess(['--port', '0', '--gpio', 'mock', ...args]);
  // 'close' after 'exit': the stderr pipe may still hold the line when the process has exited.
  const closed = new Promise((resolve) => daemon.proc.once('close', resolve));
  const exit = await daemon.exited;
  await closed;
  expect(exit.code).toBe(78);
  expect(daemon.messages('listening')).toEqual([]);
  return daemon.stderr.trim();
}

describe.concurrent('MQTT configuration', { timeout: 20_000 }, () => {
  it('without --mqtt MQTT.js is not loaded; with it, it is', async () => {
    const dead = `mqtt://127.0.0.1:${await freePort()}`;
    const [off, on] = await Promise.all([loadedModules([]), loadedModules(['--mqtt', dead])]);
    // The outlet's own code is inside the bundle (dist/bundle/main.cjs), run only when imported;
    // what costs (+22 MiB) is MQTT.js, an ES module import the hook sees.
    const isMqtt = (url: string): boolean => url.includes('/node_modules/mqtt/');
    expect(on.some(isMqtt)).toBe(true);
    expect(off.filter(isMqtt)).toEqual([]);
  });

  it.each([
    [['--mqtt', 'http://127.0.0.1'], /^pinetd: invalid value for --mqtt: 'http:\/\/127.0.0.1' \(expected mqtt:\/\/host\[:port\]/],
    [['--mqtt', 'mqtt://user:secret@127.0.0.1'], /invalid value for --mqtt: .*without user, password or path/],
    [['--mqtt-prefix', 'pinetd/#'], /invalid value for --mqtt-prefix: 'pinetd\/#'/],
    [['--mqtt-keepalive', '0'], /invalid value for --mqtt-keepalive/],
  ])('refuses %j with exit 78 and one line', async (args, message) => {
    const stderr = await configFails(args);
    expect(stderr.split('\n')).toHaveLength(1);
    expect(stderr).toMatch(message);
  });

  it('refuses a missing or too-open password file, and a password without a user name, with exit 78', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pinetd-'));
    const open = join(dir, 'open');
    writeFileSync(open, 'secret\n', { mode: 0o644 });
    const url = 'mqtt://127.0.0.1:1';
    expect(await configFails(['--mqtt', url, '--mqtt-username', 'u', '--mqtt-password-file', join(dir, 'missing')])).toMatch(/cannot read MQTT password file .*missing: ENOENT/);
    expect(await configFails(['--mqtt', url, '--mqtt-username', 'u', '--mqtt-password-file', open])).toMatch(/is accessible by other users \(mode 644\); run: chmod o-rwx/);
    expect(await configFails(['--mqtt', url, '--mqtt-password-file', open])).toMatch(/--mqtt-password-file needs --mqtt-username/);
  });
});
