#!/usr/bin/env node
// The daemon as one CommonJS file: node deploy/bundle.mjs [OUTDIR, default dist]
// writes OUTDIR/bundle/main.cjs (src/cli/main.ts and everything it imports, pino included)
// and OUTDIR/bundle/main.cjs.sha256 (its digest, which names the code cache),
// which OUTDIR/cli/pinetd.cjs (src/cli/pinetd.cts) runs through a V8 code cache.
// Used by `npm run build` and deploy/build.sh.
//
// Why one CommonJS file (measured on Node 20, start->listening): ~60 ES modules 185 ms,
// an ESM bundle 118 ms, this bundle 106 ms, this bundle with the code cache 60 ms, a bare
// node:net server 51 ms. ESM costs the loader's async resolve/link and a facade per builtin.
//
// Kept outside: native addons and what loads only when configured or needed (onoff and
// epoll, systemd-notify, MQTT.js, pino-pretty), resolved from node_modules at run time.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = resolve(process.argv[2] ?? join(root, 'dist'));

await build({
  entryPoints: [join(root, 'src/cli/main.ts')],
  outfile: join(outdir, 'bundle/main.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['onoff', 'systemd-notify', 'mqtt', 'pino-pretty'],
  // The sources are ES modules that find files next to themselves with import.meta.url; the
  // bundle sits at the same depth under dist/ as src/cli/main.ts's own output (dist/cli/).
  define: { 'import.meta.url': '__pinetdModuleUrl' },
  // "use strict" first: esbuild's own directive would come after the banner and be no directive.
  banner: { js: "'use strict';\nconst __pinetdModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  legalComments: 'none',
  // V8 keeps the source for lazy compilation, and one non-ASCII byte would make all of it a
  // two-byte string, twice the memory: string literals are escaped here, comments are checked
  // below.
  charset: 'ascii',
  logLevel: 'warning',
});

const bundle = join(outdir, 'bundle/main.cjs');
const bytes = readFileSync(bundle);
// What charset cannot escape: the comments esbuild keeps (JSDoc in class bodies).
const stray = bytes.findIndex((byte) => byte > 0x7f);
if (stray !== -1) throw new Error(`${bundle}: non-ASCII byte at offset ${stray}; the source would be held as a two-byte string`);
// The launcher names its V8 code cache after this: V8 checks only a cache's source length.
const digest = createHash('sha256').update(bytes).digest('hex');
writeFileSync(`${bundle}.sha256.tmp`, `${digest}\n`);
renameSync(`${bundle}.sha256.tmp`, `${bundle}.sha256`);
