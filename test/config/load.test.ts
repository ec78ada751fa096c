import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { parseDuration } from '../../src/config/duration.js';
import { DEFAULTS, defaultDeviceId, type Config } from '../../src/config/options.js';
import { PinetdError } from '../../src/errors.js';

function run(argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}): Config & { warnings: string[] } {
  const result = loadConfig({
    argv,
    env,
    readFile: (p) => {
      if (!(p in files)) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
      return files[p]!;
    },
  });
  if (result.action !== 'run' && result.action !== 'print-config') throw new Error(`unexpected ${result.action}`);
  return { ...result.config, warnings: result.warnings };
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PinetdError);
    expect((err as PinetdError).exitCode).toBe(78);
    return (err as Error).message;
  }
  throw new Error('expected a configuration error');
}

describe('durations', () => {
  it('accept ms, s, m, h and bare seconds', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('5s')).toBe(5000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('3')).toBe(3000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration(2)).toBe(2000);
  });
  it('reject anything else', () => {
    for (const bad of ['', 's', '5 sec', '-1s', '1d', 'abc', '1e3']) expect(parseDuration(bad), bad).toBeUndefined();
    expect(parseDuration('30d')).toBeUndefined();
  });
  it('reject a non-zero duration that would round to 0 (0 means disabled)', () => {
    expect(parseDuration('0.0001')).toBeUndefined();
    expect(parseDuration('0.4ms')).toBeUndefined();
    expect(parseDuration('0')).toBe(0);
  });
});

describe('loadConfig', () => {
  it('uses the documented defaults', () => {
    const c = run([]);
    expect(c).toMatchObject({ host: '127.0.0.1', port: 9999, protocol: 'lines', pauseEvery: 5000, task: 'board', taskTimeout: 2000, shutdownGrace: 5000, maxClients: 100, maxLine: 4096, idleTimeout: 300_000, logLevel: 'info' });
  });

  it('applies flag > environment > file > default', () => {
    const files = { '/c.json': JSON.stringify({ port: 1111, maxClients: 7, pauseEvery: '250ms', idleTimeout: 3 }) };
    const env = { PINETD_CONFIG: '/c.json', PINETD_PORT: '2222', PINETD_MAX_CLIENTS: '8' };
    const c = run(['--port', '3333'], env, files);
    expect(c.port).toBe(3333);
    expect(c.maxClients).toBe(8);
    expect(c.pauseEvery).toBe(250);
    expect(c.idleTimeout).toBe(3000);
    expect(c.config).toBe('/c.json');
    expect(run([], env, files).port).toBe(2222);
    expect(run(['--config', '/c.json'], {}, files).port).toBe(1111);
  });

  it('accepts --flag=value and the upper-snake environment names', () => {
    expect(run(['--pause-every=2m']).pauseEvery).toBe(120_000);
    expect(run([], { PINETD_PAUSE_EVERY: '0' }).pauseEvery).toBe(0);
    expect(run([], { PINETD_SHUTDOWN_GRACE: '1s', PINETD_LOG_LEVEL: 'debug' })).toMatchObject({ shutdownGrace: 1000, logLevel: 'debug' });
  });

  it('warns once about unknown PINETD_ variables without failing', () => {
    expect(run([], { PINETD_PROT: '1', PINETD_COLOUR: 'x', HOME: '/root' }).warnings).toEqual(['ignoring unknown environment variables: PINETD_COLOUR, PINETD_PROT']);
    // Read by the launcher (the code cache), not an option: no warning.
    expect(run([], { PINETD_CODE_CACHE: 'off', PINETD_PROT: '1' }).warnings).toEqual(['ignoring unknown environment variables: PINETD_PROT']);
  });

  it('names the option, the bad value and what is accepted', () => {
    expect(configError(() => run(['--port', 'abc']))).toBe("invalid value for --port: 'abc' (expected an integer from 0 to 65535)");
    expect(configError(() => run(['--port', '70000']))).toContain('--port');
    expect(configError(() => run([], { PINETD_PORT: '-1' }))).toBe("invalid value for PINETD_PORT: '-1' (expected an integer from 0 to 65535)");
    expect(configError(() => run(['--protocol', 'http']))).toBe("invalid value for --protocol: 'http' (expected one of lines, echo)");
    expect(configError(() => run(['--pause-every', 'soon']))).toMatch(/^invalid value for --pause-every: 'soon' \(expected a duration like 250ms/);
    expect(configError(() => run(['--log-level', 'loud']))).toContain('expected one of fatal, error, warn, info, debug, trace, silent');
  });

  it('accepts IP addresses and host names for --host, and rejects anything else with exit 78', () => {
    for (const ok of ['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost', 'pi-4.local']) expect(run(['--host', ok]).host).toBe(ok);
    expect(configError(() => run(['--host', 'not a host!']))).toBe("invalid value for --host: 'not a host!' (expected an IP address such as 127.0.0.1, 0.0.0.0 or ::, or a host name)");
    expect(configError(() => run(['--host', '-bad.example']))).toContain('--host');
  });

  it('rejects --task-timeout 0 and --max-clients 0', () => {
    expect(configError(() => run(['--task-timeout', '0']))).toContain('--task-timeout');
    expect(configError(() => run(['--max-clients', '0']))).toContain('--max-clients');
  });

  it('rejects unknown options, missing values and stray arguments', () => {
    expect(configError(() => run(['--prot', 'x']))).toBe('unknown option --prot (see --help for the options)');
    expect(configError(() => run(['--port']))).toBe('option --port needs a value (see --help)');
    expect(configError(() => run(['serve']))).toContain("unexpected argument serve");
  });

  it('reports unreadable, invalid and wrongly shaped config files', () => {
    expect(configError(() => run(['--config', '/missing.json']))).toBe('cannot read config file /missing.json: ENOENT (expected a readable JSON file)');
    expect(configError(() => run(['--config', '/bad.json'], {}, { '/bad.json': '{"port": 1,' }))).toMatch(/^config file \/bad.json is not valid JSON/);
    expect(configError(() => run(['--config', '/arr.json'], {}, { '/arr.json': '[1]' }))).toContain('must hold a JSON object');
    expect(configError(() => run(['--config', '/k.json'], {}, { '/k.json': '{"max_clients": 3}' }))).toContain('unknown key "max_clients"');
    expect(configError(() => run(['--config', '/v.json'], {}, { '/v.json': '{"port": "nope"}' }))).toBe('invalid value for "port" in /v.json: \'nope\' (expected an integer from 0 to 65535)');
  });

  it('answers help, version and print-config', () => {
    expect(loadConfig({ argv: ['--help'], env: {} }).action).toBe('help');
    expect(loadConfig({ argv: ['-v'], env: {} }).action).toBe('version');
    const printed = loadConfig({ argv: ['--print-config', '--shutdown-grace', '2s'], env: {} });
    expect(printed).toMatchObject({ action: 'print-config', config: { ...DEFAULTS, shutdownGrace: 2000 } });
  });
});

describe('--device-id', () => {
  it('defaults to the hostname reduced to [a-z0-9_-], and rejects anything else', () => {
    expect(defaultDeviceId('Shelf-Pi.local')).toBe('shelf-pi');
    expect(defaultDeviceId('My Pi #3')).toBe('my-pi-3');
    expect(defaultDeviceId('---')).toBe('pinetd');
    expect(() => loadConfig({ argv: ['--device-id', 'Kitchen Pi'], env: {} })).toThrow(/--device-id: 'Kitchen Pi' \(expected 1-64 characters of a-z, 0-9, _ and -\)/);
  });
});
