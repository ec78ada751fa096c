/**
 * Protected mode with a peer that really is not loopback: the client runs in a network
 * namespace of this test's own, joined to this machine by a veth pair with private addresses
 * (10.200.x.1/30 here, 10.200.x.2/30 there) that exist only for the test — the traffic never
 * leaves this machine. The daemon listens on 0.0.0.0 with neither --allow nor a token.
 *
 * Needs root and iproute2 (`ip netns`). On CI (process.env.CI) a missing prerequisite FAILS;
 * elsewhere the suite is skipped with the reason in its name.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineClient } from '../helpers/client.js';
import { startDaemon, type DaemonProcess } from '../helpers/daemon.js';

const NS = `pinetd-t${process.pid}`;
const SUBNET = 4 * (process.pid % 60); // a /30 of its own per test process
const HOST_IP = `10.200.${process.pid % 250}.${SUBNET + 1}`;
const NS_IP = `10.200.${process.pid % 250}.${SUBNET + 2}`;
const VETH = `pt${process.pid % 100000}`;

function prerequisites(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== 'linux') return { ok: false, reason: 'needs Linux network namespaces' };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'needs root to create a network namespace' };
  if (spawnSync('ip', ['-V']).error) return { ok: false, reason: 'ip not found (apt-get install iproute2)' };
  return { ok: true };
}

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });

/** Runs a one-shot client inside the namespace: sends the lines, prints every answer line. */
function fromNamespace(port: number, lines: string[]): string[] {
  const script = `
    const s = require('node:net').connect(${port}, '${HOST_IP}', () => s.end(${JSON.stringify(lines.map((l) => `${l}\n`).join(''))}));
    let out = ''; s.setEncoding('utf8').on('data', (d) => (out += d));
    s.on('close', () => process.stdout.write(out)); s.on('error', (e) => { process.stderr.write(String(e)); process.exit(2); });`;
  const out = execFileSync('ip', ['netns', 'exec', NS, process.execPath, '-e', script], { encoding: 'utf8', timeout: 10_000 });
  return out.split('\n').filter(Boolean);
}

const pre = prerequisites();
const reason = pre.ok ? '' : pre.reason;

if (!pre.ok && process.env.CI) {
  it('has the prerequisites of the network-namespace test (required on CI)', () => {
    expect.fail(reason);
  });
}

describe.skipIf(!pre.ok)(`protected mode with a non-loopback peer${pre.ok ? '' : ` (skipped: ${reason})`}`, () => {
  const daemons: DaemonProcess[] = [];

  beforeAll(() => {
    spawnSync('ip', ['netns', 'del', NS]); // a leftover of a killed run
    ip('netns', 'add', NS);
    ip('link', 'add', `${VETH}h`, 'type', 'veth', 'peer', 'name', `${VETH}c`, 'netns', NS);
    ip('addr', 'add', `${HOST_IP}/30`, 'dev', `${VETH}h`);
    ip('link', 'set', `${VETH}h`, 'up');
    ip('-n', NS, 'addr', 'add', `${NS_IP}/30`, 'dev', `${VETH}c`);
    ip('-n', NS, 'link', 'set', `${VETH}c`, 'up');
    ip('-n', NS, 'link', 'set', 'lo', 'up');
  });

  afterAll(() => {
    for (const d of daemons) d.kill('SIGKILL');
    // Deleting the namespace deletes its veth end, and with it the host end.
    spawnSync('ip', ['netns', 'del', NS]);
    spawnSync('ip', ['link', 'del', `${VETH}h`]);
  });

  async function run(args: string[]) {
    const started = await startDaemon(['--host', '0.0.0.0', '--pause-every', '0', ...args]);
    daemons.push(started.daemon);
    return started;
  }

  const PROTECTED = 'ERR protected writes from other hosts are refused: set --allow or --auth-token-file (or --protected-mode off)';

  it('refuses SET and DEL from the other host with a hint naming the options, serves its reads, and lets loopback write', async () => {
    const { daemon, port } = await run([]);
    const local = await LineClient.connect(port);
    expect(await local.request('SET colour blue')).toBe('OK');
    expect(fromNamespace(port, ['SET colour red', 'DEL colour', 'GET colour', 'PING', 'HISTORY'])).toEqual([PROTECTED, PROTECTED, 'blue', 'PONG', '[]']);
    expect(await local.request('GET colour')).toBe('blue');
    local.close();
    const warnings = daemon.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('protected mode:'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(/--allow.*--auth-token-file.*--protected-mode off/);
  });

  it('--protected-mode off, or an --allow list, gives the other host full access', async () => {
    for (const args of [['--protected-mode', 'off'], ['--allow', `${NS_IP}/32,127.0.0.1`]]) {
      const { daemon, port } = await run(args);
      expect(fromNamespace(port, ['SET colour red', 'GET colour']), args.join(' ')).toEqual(['OK', 'red']);
      expect(daemon.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('protected mode:'))).toBe(false);
    }
  });

  it('--allow without the other host\'s address closes it with ERR forbidden', async () => {
    const { port } = await run(['--allow', '127.0.0.1']);
    expect(fromNamespace(port, ['PING'])).toEqual(['ERR forbidden']);
  });
});
