/** --http and --http-max-clients as an operator writes them: flag, environment, config file. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { DEFAULTS, type Config } from '../../../src/config/options.js';

function config(argv: string[], env: Record<string, string> = {}, file?: unknown): Config {
  const r = loadConfig({ argv: file === undefined ? argv : [...argv, '--config', 'c.json'], env, readFile: () => JSON.stringify(file) });
  if (r.action !== 'run') throw new Error(r.action);
  return r.config;
}

describe('--http', () => {
  it('is off by default, with 32 connections when on', () => {
    expect(DEFAULTS.http).toBeNull();
    expect(config([]).http).toBeNull();
    expect(config([]).httpMaxClients).toBe(32);
  });

  it('takes HOST:PORT, [IPv6]:PORT, a host name, port 0, or off', () => {
    expect(config(['--http', '127.0.0.1:9998']).http).toEqual({ host: '127.0.0.1', port: 9998 });
    expect(config(['--http', '[::1]:0']).http).toEqual({ host: '::1', port: 0 });
    expect(config(['--http', 'raspberrypi.local:80']).http).toEqual({ host: 'raspberrypi.local', port: 80 });
    expect(config(['--http', 'off']).http).toBeNull();
    expect(config([], { PINETD_HTTP: '0.0.0.0:9998', PINETD_HTTP_MAX_CLIENTS: '4' })).toMatchObject({ http: { host: '0.0.0.0', port: 9998 }, httpMaxClients: 4 });
  });

  it('reads the config file, also in the form --print-config shows it', () => {
    expect(config([], {}, { http: '0.0.0.0:9998' }).http).toEqual({ host: '0.0.0.0', port: 9998 });
    expect(config([], {}, { http: { host: '::', port: 9998 } }).http).toEqual({ host: '::', port: 9998 });
  });

  it('rejects what is not an address with the accepted forms', () => {
    for (const bad of ['9998', ':9998', '127.0.0.1', '127.0.0.1:65536', '[127.0.0.1]:80', 'a b:1', '::1:80']) {
      expect(() => config(['--http', bad])).toThrow(/^invalid value for --http: .* \(expected HOST:PORT such as 127\.0\.0\.1:9998/);
    }
    expect(() => config(['--http-max-clients', '0'])).toThrow(/--http-max-clients: '0' \(expected an integer from 1 to 1000\)/);
  });
});
