/**
 * Who may connect and for how long, as a user of the real daemon sees it: --allow,
 * --max-clients-per-ip, --line-timeout, from the command line of a child process.
 */
import { describe, expect, it } from 'vitest';
import { daemonForTest, DaemonProcess } from '../helpers/daemon.js';

describe.concurrent('access limits in the daemon', () => {
  it('--allow 127.0.0.1/32 serves 127.0.0.1 and closes 127.0.0.2 with ERR forbidden, logged', async (ctx) => {
    const { daemon, connect } = await daemonForTest(ctx, ['--allow', '127.0.0.1/32']);
    expect(await (await connect('127.0.0.1')).request('PING')).toBe('PONG');
    const refused = await connect('127.0.0.2');
    await refused.waitClosed();
    expect(refused.raw).toBe('ERR forbidden\n');
    expect(await daemon.waitForMsg('connection refused')).toMatchObject({ reason: 'not in --allow' });
  });

  it('--max-clients-per-ip 1: a second connection from one address gets ERR busy, another address is admitted', async (ctx) => {
    const { connect } = await daemonForTest(ctx, ['--max-clients-per-ip', '1']);
    expect(await (await connect()).request('PING')).toBe('PONG');
    const second = await connect();
    await second.waitClosed();
    expect(second.lines).toEqual(['ERR busy']);
    expect(await (await connect('127.0.0.2')).request('PING')).toBe('PONG');
  });

  it('--line-timeout 1s closes a connection whose line never completes', async (ctx) => {
    const { connect } = await daemonForTest(ctx, ['--line-timeout', '1s']);
    const c = await connect();
    c.send('SET k ');
    const t0 = performance.now();
    // Off the timeout's beat: a byte written after the close would make the client's kernel reset
    // the connection before the client has read the error line.
    const trickle = setInterval(() => c.isClosed || c.send('x'), 300);
    try {
      await c.waitClosed(3000);
    } finally {
      clearInterval(trickle);
    }
    expect(c.lines).toEqual(['ERR line-timeout']);
    expect(performance.now() - t0).toBeGreaterThan(800);
  });

  it('an invalid --allow entry is exit 78 naming the entry', async () => {
    const d = new DaemonProcess(['--allow', '10.0.0.0/8,192.168.1.300/24', '--port', '0']);
    const exit = await d.exited;
    expect(exit.code).toBe(78);
    expect(d.stderr).toContain("'192.168.1.300/24' is not one");
  });
});
