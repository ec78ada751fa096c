/**
 * --auth-token-file and AUTH in the real daemon: a token file on disk, real sockets.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { daemonForTest, DaemonProcess } from '../helpers/daemon.js';

const dir = mkdtempSync(join(tmpdir(), 'pinetd-auth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TOKEN = 'k3y-0f-at-least-16-chars';

function tokenFile(name: string, content: string, mode: number): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}

describe.concurrent('--auth-token-file', () => {
  it('a client must AUTH before anything but PING/HELP/QUIT; the right token unlocks the connection', async (ctx) => {
    const { connect } = await daemonForTest(ctx, ['--auth-token-file', tokenFile('good', `  ${TOKEN}\n`, 0o600)]);
    const c = await connect();
    expect(await c.request('PING')).toBe('PONG');
    expect(await c.request('SET k v')).toBe('ERR auth-required');
    expect(await c.request('STATUS')).toBe('ERR auth-required');
    expect(await c.request(`AUTH ${TOKEN}`)).toBe('OK'); // surrounding whitespace in the file is trimmed
    expect(await c.request('SET k v')).toBe('OK');
    const status = await c.request('STATUS');
    expect(JSON.parse(status)).toMatchObject({ state: 'serving' });
    expect(status).not.toContain(TOKEN);
    // Authentication is per connection.
    const other = await connect();
    expect(await other.request('GET k')).toBe('ERR auth-required');
  });

  it('three wrong tokens close the connection; failures are logged with the remote address', async (ctx) => {
    const { daemon, connect } = await daemonForTest(ctx, ['--auth-token-file', tokenFile('good2', TOKEN, 0o640)]);
    const c = await connect();
    expect(await c.request('AUTH nope')).toBe('ERR auth-failed');
    expect(await c.request('AUTH nope')).toBe('ERR auth-failed');
    c.send('AUTH nope\nPING\n');
    await c.waitClosed();
    expect(c.lines.slice(2)).toEqual(['ERR auth-failed']);
    const logged = await daemon.waitFor((l) => l.msg === 'authentication failed' && l.failures === 3);
    expect(String(logged.remote)).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(JSON.stringify(daemon.logs)).not.toContain(TOKEN);
  });

  it('refuses to start (78) when others may read the file, or the token is empty or short', async () => {
    const cases = [
      [tokenFile('world-readable', TOKEN, 0o644), 'is accessible by other users (mode 644); run: chmod o-rwx'],
      [tokenFile('world-writable', TOKEN, 0o602), 'is accessible by other users (mode 602)'],
      [tokenFile('empty', '\n', 0o600), 'is empty'],
      [tokenFile('short', 'fifteen-chars!!', 0o600), 'is 15 characters; use at least 16'],
      [join(dir, 'missing'), 'cannot read auth token file'],
    ] as const;
    await Promise.all(cases.map(async ([path, message]) => {
      const d = new DaemonProcess(['--port', '0', '--gpio', 'mock', '--auth-token-file', path]);
      const exit = await d.exited;
      expect(exit.code, path).toBe(78);
      expect(d.stderr, path).toContain(message);
      expect(d.stderr).not.toContain(TOKEN);
    }));
  });

  it('--print-config shows the token file path, never the token', async () => {
    const path = tokenFile('printed', TOKEN, 0o600);
    const d = new DaemonProcess(['--print-config', '--auth-token-file', path]);
    expect((await d.exited).code).toBe(0);
    expect(JSON.parse(d.stdout)).toMatchObject({ authTokenFile: path, protectedMode: 'on' });
    expect(d.stdout).not.toContain(TOKEN);
  });
});
