/**
 * The installed entry point (src/cli/pinetd.cts): the bundle runs through a V8 code cache that
 * is written once, then used; a cache that is garbage, a directory that cannot be written or
 * the cache turned off never stop a start. Real child processes, real files.
 */
import { mkdtempSync, readFileSync, renameSync, rmSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LineClient } from '../helpers/client.js';
import { MAIN, startDaemon } from '../helpers/daemon.js';

const BUNDLE = join(dirname(MAIN), '..', 'bundle', 'main.cjs');
const DIGEST = `${BUNDLE}.sha256`;

/** The launcher writes the cache 1 s after start; give it a margin. */
const AFTER_WRITE_MS = 1800;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the daemon with PINETD_CODE_CACHE=`cache` for `ms`, checks it answers, stops it. */
async function runFor(cache: string, ms = AFTER_WRITE_MS): Promise<void> {
  const { daemon, port } = await startDaemon(['--pause-every', '0'], { PINETD_CODE_CACHE: cache });
  const client = await LineClient.connect(port);
  expect(await client.request('PING')).toBe('PONG');
  client.close();
  await sleep(ms);
  daemon.kill('SIGTERM');
  expect((await daemon.exited).code).toBe(0);
}

const cacheFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.v8cache'));

// One at a time: one test changes the bundle's digest file, which the others' cache names contain.
describe('the launcher and its code cache', { timeout: 20_000 }, () => {
  it('writes the cache once (private to the user), then uses it without writing it again', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'pinetd-cc-')), 'cache');
    await runFor(dir);
    const [file] = cacheFiles(dir);
    expect(file).toMatch(new RegExp(`^pinetd-${process.version.replace(/\./g, '\\.')}-${process.arch}-\\d+-[0-9a-f]{32}\\.v8cache$`));
    const first = statSync(join(dir, file!));
    expect(first.mode & 0o777).toBe(0o600);
    expect(first.size).toBeGreaterThan(10_000);
    await runFor(dir);
    // V8 accepted it: no rewrite (a rejected cache is replaced by a new file, a new inode).
    const second = statSync(join(dir, file!));
    expect(second.ino).toBe(first.ino);
    expect(second.mtimeMs).toBe(first.mtimeMs);
    expect(cacheFiles(dir)).toEqual([file]);
  });

  it('is named after the digest of the bundle: another build (another digest) gets its own cache, none without one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pinetd-cc-'));
    await runFor(dir);
    const [before] = cacheFiles(dir);
    const digest = readFileSync(DIGEST, 'utf8');
    expect(before).toContain(digest.trim().slice(0, 32));
    const put = (text: string): void => {
      // atomically: daemons of other test files read it at their start
      writeFileSync(`${DIGEST}.test`, text);
      renameSync(`${DIGEST}.test`, DIGEST);
    };
    try {
      put(`${'0'.repeat(64)}\n`); // as if it were another build of the same size
      await runFor(dir);
      expect(cacheFiles(dir)).toEqual([`pinetd-${process.version}-${process.arch}-${statSync(BUNDLE).size}-${'0'.repeat(32)}.v8cache`]);
      rmSync(DIGEST);
      const none = mkdtempSync(join(tmpdir(), 'pinetd-cc-'));
      await runFor(none);
      expect(cacheFiles(none)).toEqual([]);
    } finally {
      put(digest);
    }
  });

  it('the bundle runs in strict mode, as the ES modules it was made from do', () => {
    const [first, second] = readFileSync(BUNDLE, 'utf8').split('\n');
    expect(first).toMatch(/^#!/);
    expect(second).toBe("'use strict';");
  });

  it('replaces a cache V8 rejects (garbage) and serves meanwhile; drops the files of other builds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pinetd-cc-'));
    await runFor(dir);
    const [file] = cacheFiles(dir);
    writeFileSync(join(dir, file!), 'not a code cache');
    writeFileSync(join(dir, 'pinetd-v0.0.0-x64-1-1.v8cache'), 'an old build');
    await runFor(dir);
    expect(cacheFiles(dir)).toEqual([file]);
    expect(statSync(join(dir, file!)).size).toBeGreaterThan(10_000);
  });

  it('off, or a directory it cannot make: the daemon starts and serves all the same', async () => {
    await runFor('off', 1200);
    // A file where the directory should be: mkdir fails, nothing is written, nothing logged.
    const notADir = join(mkdtempSync(join(tmpdir(), 'pinetd-cc-')), 'file');
    writeFileSync(notADir, '');
    await runFor(notADir);
    expect(statSync(notADir).size).toBe(0);
  });
});
