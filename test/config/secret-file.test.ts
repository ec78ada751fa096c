import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSecretFile } from '../../src/config/secret-file.js';

const dir = mkdtempSync(join(tmpdir(), 'pinetd-secret-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string, mode: number): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  chmodSync(p, mode);
  return p;
}

describe('readSecretFile', () => {
  it('returns the trimmed token of a private file', () => {
    expect(readSecretFile(file('ok', '  s3cret-token-0123456789\n', 0o600), 'auth token', 16)).toBe('s3cret-token-0123456789');
    expect(readSecretFile(file('group', 'abcdefghijklmnopq', 0o640), 'auth token', 16)).toBe('abcdefghijklmnopq');
  });

  it('refuses a file other users may read or write, an empty or short one, a missing one', () => {
    expect(() => readSecretFile(file('world', 'abcdefghijklmnopq', 0o644), 'auth token')).toThrow(/accessible by other users \(mode 644\); run: chmod o-rwx/);
    expect(() => readSecretFile(file('worldw', 'abcdefghijklmnopq', 0o602), 'auth token')).toThrow(/accessible by other users/);
    expect(() => readSecretFile(file('empty', ' \n', 0o600), 'auth token')).toThrow(/is empty/);
    expect(() => readSecretFile(file('short', 'abc', 0o600), 'auth token', 16)).toThrow(/3 characters; use at least 16/);
    expect(() => readSecretFile(join(dir, 'missing'), 'MQTT password')).toThrow(/cannot read MQTT password file .*ENOENT/);
    try {
      readSecretFile(file('world2', 'x', 0o666), 'auth token');
    } catch (err) {
      expect(err).toMatchObject({ code: 'PINETD_E_CONFIG', exitCode: 78 });
    }
  });
});
