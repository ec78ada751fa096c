/** Startup, configuration errors and the client, as a user at a shell sees them. */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DaemonProcess, MAIN, startDaemon } from '../helpers/daemon.js';

function run(args: string[], input?: string, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
    // 'close', not 'exit': the pipes may still hold the last line when the process has exited.
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.concurrent('command line', () => {
  it('--help, --version and --print-config exit 0', async () => {
    const [help, version, printed] = await Promise.all([
      run(['--help']),
      run(['--version']),
      run(['--print-config', '--pause-every', '2m'], undefined, { PINETD_PORT: '1234' }),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--pause-every DURATION');
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(printed.code).toBe(0);
    expect(JSON.parse(printed.stdout)).toMatchObject({ port: 1234, pauseEvery: 120_000, taskTimeout: 2000 });
  });

  for (const [name, args, env, message] of [
    ['a bad flag value', ['--port', 'http'], {}, "pinetd: invalid value for --port: 'http' (expected an integer from 0 to 65535)"],
    ['an unknown option', ['--verbose'], {}, 'pinetd: unknown option --verbose (see --help for the options)'],
    ['a bad environment value', [], { PINETD_IDLE_TIMEOUT: 'forever' }, "pinetd: invalid value for PINETD_IDLE_TIMEOUT: 'forever'"],
    ['a missing config file', ['--config', '/nonexistent/pinetd.json'], {}, 'pinetd: cannot read config file /nonexistent/pinetd.json: ENOENT'],
    ['a task that does not exist', ['--task', './nope.mjs'], {}, "pinetd: invalid value for --task: './nope.mjs': no such file"],
    ['a task without a default export', ['--task', 'test/fixtures/tasks/no-default.mjs'], {}, 'no default-exported function'],
    ['an unknown built-in task', ['--task', 'thermometer'], {}, "pinetd: invalid value for --task: 'thermometer' (expected one of board, gpio-inputs, ds18b20"],
  ] as const) {
    it(`exits 78 with one clear line for ${name}, without listening`, async () => {
      const r = await run(['--port', '0', ...args], undefined, env);
      expect(r.code).toBe(78);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(message);
      expect(r.stdout).not.toContain('"msg":"listening"');
    });
  }

  it('exits 78 for an invalid config file value', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pinetd-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ port: 0, maxLine: 'big' }));
    const r = await run(['--config', file]);
    expect(r.code).toBe(78);
    expect(r.stderr).toBe(`pinetd: invalid value for "maxLine" in ${file}: 'big' (expected an integer from 16 to 1048576)\n`);
  });

  it('exits 78 for a config file over 1 MiB without reading it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pinetd-'));
    const file = join(dir, 'huge.json');
    writeFileSync(file, `{${' '.repeat(2 * 1024 * 1024)}}`);
    const r = await run(['--config', file]);
    expect(r.code).toBe(78);
    expect(r.stderr).toBe(`pinetd: config file ${file} is larger than 1 MiB (expected a small JSON file)\n`);
  });

  it('exits 1 with a clear message when the port is in use', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const { port } = blocker.address() as net.AddressInfo;
    const r = await run(['--port', String(port)]);
    blocker.close();
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`pinetd: cannot listen on 127.0.0.1:${port}: address already in use\n`);
  });

  it('warns about unknown PINETD_ variables in one line and starts anyway', async () => {
    const daemon = new DaemonProcess(['--port', '0', '--gpio', 'mock'], { PINETD_PROTOCL: 'echo' });
    await daemon.ready();
    expect(daemon.logs.find((l) => l.level === 40)?.msg).toBe('ignoring unknown environment variables: PINETD_PROTOCL');
    daemon.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  });
});

describe.concurrent('pinetd client', () => {
  it('sends each command, prints each response and exits 0 when the server closes', async () => {
    const { daemon, port } = await startDaemon();
    const r = await run(['client', '--port', String(port), 'PING', 'ECHO two words', 'SET k v', 'GET k']);
    expect(r).toMatchObject({ code: 0, stdout: 'PONG\ntwo words\nOK\nv\n' });
    daemon.kill('SIGTERM');
    await daemon.exited;
  });

  it('prints answers that read BYE or SHUTDOWN instead of taking them as control lines', async () => {
    const { daemon, port } = await startDaemon();
    const r = await run(['client', '--port', String(port), 'ECHO BYE', 'SET x SHUTDOWN', 'GET x', 'PING']);
    expect(r).toMatchObject({ code: 0, stdout: 'BYE\nOK\nSHUTDOWN\nPONG\n', stderr: '' });
    daemon.kill('SIGTERM');
    await daemon.exited;
  });

  it('reads commands from stdin and exits 0 on BYE', async () => {
    const { daemon, port } = await startDaemon();
    const r = await run(['client', '--port', String(port)], 'PING\nQUIT\nPING\n');
    expect(r).toMatchObject({ code: 0, stdout: 'PONG\nBYE\n' });
    daemon.kill('SIGTERM');
    await daemon.exited;
  });

  it('exits 0 on SHUTDOWN and says the server is going away', async () => {
    const { daemon, port } = await startDaemon(['--shutdown-grace', '5s']);
    const child = spawn(process.execPath, [MAIN, 'client', '--port', String(port), 'SUBSCRIBE']);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    await new Promise<void>((resolve) => {
      const check = (): void => (stdout.includes('OK\n') ? resolve() : void setTimeout(check, 10));
      check();
    });
    daemon.kill('SIGTERM');
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(0);
    expect(stdout).toBe('OK\nSHUTDOWN\n');
    expect(stderr).toBe('pinetd client: the server is shutting down\n');
    expect((await daemon.exited).code).toBe(0);
  });

  it('exits 1 when nothing listens', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const { port } = blocker.address() as net.AddressInfo;
    await new Promise((r) => blocker.close(r));
    const r = await run(['client', '--port', String(port), 'PING']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`pinetd client: cannot talk to 127.0.0.1:${port}: ECONNREFUSED\n`);
  });
});
