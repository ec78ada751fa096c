#!/usr/bin/env node
/**
 * The installed entry point (package.json `bin`, the systemd unit): runs the one-file bundle
 * of src/cli/main.ts (dist/bundle/main.cjs, made by deploy/bundle.mjs) through a V8 code cache.
 *
 * Why: compiling the ~340 KB bundle is most of what pinetd's start-up costs over a bare
 * node:net server; with the cache, V8 deserialises the functions start-up compiled last time
 * instead (start->listening on Node 20 here: 106 ms -> 60 ms, bare server 51 ms; more on a
 * Pi). Node >= 22.1 has this built in (module.enableCompileCache); Node 20 has vm.Script's
 * `cachedData`, which is what this uses on every version, so there is one path to test.
 *
 * The cache is one file per bundle file and Node version, in $PINETD_CODE_CACHE (a directory,
 * or `off`), else systemd's $CACHE_DIRECTORY (CacheDirectory=pinetd), else
 * node_modules/.cache/pinetd of the install. V8 rejects a cache of another V8 version or other
 * flags, but of the source it checks only the length, and release builds skip its checksum: so
 * the file name carries the bundle's SHA-256, written beside it by deploy/bundle.mjs (the same
 * build reinstalled or rolled back to finds its cache; any other content gets its own; no
 * digest file, no cache), and a cache is written with fsync and rename, never torn. Missing, rejected or unreadable: the bundle is compiled as
 * usual and a new cache written once the process has run a second (so it holds what start-up
 * compiled); the serialisation is synchronous (a few ms, once per upgrade), the file write is
 * not. An unwritable cache directory only costs speed, never a start. (Bit rot inside a cache
 * is no more likely than inside the bundle next to it, which has no checksum either.)
 */
import fs = require('node:fs');
import path = require('node:path');
import vm = require('node:vm');
import Module = require('node:module');

const bundle = path.join(__dirname, '..', 'bundle', 'main.cjs');
const WRITE_AFTER_MS = 1000;
const STALE_TMP_MS = 60_000;

function cacheDir(): string | undefined {
  const chosen = process.env['PINETD_CODE_CACHE'];
  if (chosen === 'off') return undefined;
  if (chosen) return chosen;
  // systemd may pass several, colon-separated, in the order of CacheDirectory=.
  const systemd = process.env['CACHE_DIRECTORY']?.split(':')[0];
  return systemd || path.join(__dirname, '..', '..', 'node_modules', '.cache', 'pinetd');
}

/** The bundle's digest (deploy/bundle.mjs), shortened; undefined when missing or malformed. */
function readDigest(file: string): string | undefined {
  try {
    const hex = fs.readFileSync(file, 'utf8').trim();
    return /^[0-9a-f]{64}$/.test(hex) ? hex.slice(0, 32) : undefined;
  } catch {
    return undefined;
  }
}

function readCache(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}

/**
 * Serialises the cache and writes it beside a temp name, synced, then renames: a reader never
 * sees half a file. Files of other builds (and temp files of failed writes) are removed.
 */
async function writeCache(dir: string, name: string, script: vm.Script): Promise<void> {
  await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
  // Not writable (a read-only install, another user's directory): skip the serialisation too.
  await fs.promises.access(dir, fs.constants.W_OK);
  const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
  try {
    const file = await fs.promises.open(tmp, 'w', 0o600);
    try {
      await file.writeFile(script.createCachedData());
      await file.sync();
    } finally {
      await file.close();
    }
    await fs.promises.rename(tmp, path.join(dir, name));
  } catch (err) {
    await fs.promises.unlink(tmp).catch(() => {});
    throw err;
  }
  for (const old of await fs.promises.readdir(dir)) {
    const file = path.join(dir, old);
    if (old !== name && old.startsWith('pinetd-') && old.endsWith('.v8cache')) await fs.promises.unlink(file).catch(() => {});
    // Another process's temp file only once it is old: it may be writing it right now.
    else if (old.startsWith('.pinetd-') && old.endsWith('.tmp') && (await isOlderThan(file, STALE_TMP_MS))) await fs.promises.unlink(file).catch(() => {});
  }
}

async function isOlderThan(file: string, ms: number): Promise<boolean> {
  const stat = await fs.promises.stat(file).catch(() => undefined);
  return stat !== undefined && Date.now() - stat.mtimeMs > ms;
}

function run(): void {
  const stat = fs.statSync(bundle);
  // A shebang is only valid at the very start of a script, not inside the module wrapper.
  const source = fs.readFileSync(bundle, 'utf8').replace(/^#!.*/, '');
  const digest = readDigest(`${bundle}.sha256`);
  const dir = digest === undefined ? undefined : cacheDir();
  const name = `pinetd-${process.version}-${process.arch}-${stat.size}-${digest ?? ''}.v8cache`;
  const cachedData = dir === undefined ? undefined : readCache(path.join(dir, name));
  const script = new vm.Script(Module.wrap(source), { filename: bundle, ...(cachedData ? { cachedData } : {}) });
  if (dir !== undefined && (cachedData === undefined || script.cachedDataRejected === true)) {
    setTimeout(() => {
      writeCache(dir, name, script).catch(() => {});
    }, WRITE_AFTER_MS).unref();
  }
  // A vm.Script has no import() of its own on Node 20 without an experimental option: the
  // bundle borrows this module's (src/util/import-module.ts).
  Object.defineProperty(globalThis, Symbol.for('pinetd.import'), { value: (specifier: string) => import(specifier) });
  const wrapper = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: object, filename: string, dirname: string) => void;
  const mod = { exports: {} };
  wrapper.call(mod.exports, mod.exports, Module.createRequire(bundle), mod, bundle, path.dirname(bundle));
}

run();
