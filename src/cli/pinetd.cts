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
 * The cache is one file per bundle build and Node version, in $PINETD_CODE_CACHE (a directory,
 * or `off`), else systemd's $CACHE_DIRECTORY (CacheDirectory=pinetd), else
 * node_modules/.cache/pinetd of the install. V8 itself rejects a cache of another V8 version
 * or other flags; the file name adds the bundle's size and mtime, because V8 checks only the
 * source's length. Missing, rejected or unreadable: the bundle is compiled as usual and a new
 * cache written once the process has run a second (so it holds what start-up compiled),
 * atomically, off the event loop. Any failure here only costs speed, never a start.
 */
import fs = require('node:fs');
import path = require('node:path');
import vm = require('node:vm');
import Module = require('node:module');

const bundle = path.join(__dirname, '..', 'bundle', 'main.cjs');
const WRITE_AFTER_MS = 1000;

function cacheDir(): string | undefined {
  const chosen = process.env['PINETD_CODE_CACHE'];
  if (chosen === 'off') return undefined;
  if (chosen) return chosen;
  // systemd may pass several, colon-separated, in the order of CacheDirectory=.
  const systemd = process.env['CACHE_DIRECTORY']?.split(':')[0];
  return systemd || path.join(__dirname, '..', '..', 'node_modules', '.cache', 'pinetd');
}

function readCache(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Writes the cache beside a temp name, then renames: a reader never sees half a file. Old builds' files go. */
async function writeCache(dir: string, name: string, data: Buffer): Promise<void> {
  await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
  await fs.promises.writeFile(tmp, data, { mode: 0o600 });
  await fs.promises.rename(tmp, path.join(dir, name));
  for (const old of await fs.promises.readdir(dir)) {
    if (old !== name && old.startsWith('pinetd-') && old.endsWith('.v8cache')) await fs.promises.unlink(path.join(dir, old)).catch(() => {});
  }
}

function run(): void {
  const stat = fs.statSync(bundle);
  // A shebang is only valid at the very start of a script, not inside the module wrapper.
  const source = fs.readFileSync(bundle, 'utf8').replace(/^#!.*/, '');
  const dir = cacheDir();
  const name = `pinetd-${process.version}-${process.arch}-${stat.size}-${Math.trunc(stat.mtimeMs)}.v8cache`;
  const cachedData = dir === undefined ? undefined : readCache(path.join(dir, name));
  const script = new vm.Script(Module.wrap(source), { filename: bundle, ...(cachedData ? { cachedData } : {}) });
  if (dir !== undefined && (cachedData === undefined || script.cachedDataRejected === true)) {
    setTimeout(() => {
      writeCache(dir, name, script.createCachedData()).catch(() => {});
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
