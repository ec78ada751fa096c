#!/usr/bin/env node
/**
 * Entry point: `pinetd [options]` runs the daemon, `pinetd client ...` the client,
 * `pinetd fleet ...` the MQTT fleet view.
 * Turns startup errors into one clear line and the right exit status (78 for anything the
 * operator must fix in the configuration), before any socket is opened.
 */
import { readFileSync } from 'node:fs';
import { runClient } from '../client/client.js';
import { helpText, loadConfig, type LoadResult } from '../config/load.js';
import { startDaemon } from '../daemon.js';
import { PinetdError } from '../errors.js';
import { createLogger } from '../log/logger.js';

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'client') {
    process.exitCode = await runClient(argv.slice(1));
    return;
  }
  if (argv[0] === 'fleet') return void (process.exitCode = await (await import('../fleet/fleet.js')).runFleet(argv.slice(1)));
  let loaded: LoadResult;
  try {
    loaded = loadConfig({ argv, env: process.env });
  } catch (err) {
    fail(err);
  }
  if (loaded.action === 'help') return void process.stdout.write(`${helpText(version)}\n`);
  if (loaded.action === 'version') return void process.stdout.write(`${version}\n`);
  if (loaded.action === 'print-config') return void process.stdout.write(`${JSON.stringify(loaded.config, null, 2)}\n`);

  const log = createLogger({ level: loaded.config.logLevel });
  for (const warning of loaded.warnings) log.warn(warning);
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception');
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    log.fatal({ err }, 'unhandled rejection');
    process.exit(1);
  });
  try {
    await startDaemon({ config: loaded.config, log, version, exit: (code) => process.exit(code) });
  } catch (err) {
    // A known startup error is the one stderr line below (journald keeps stderr too);
    // anything else is a bug and gets its stack in the log.
    if (!(err instanceof PinetdError)) log.fatal({ err }, 'startup failed');
    fail(err);
  }
}

function fail(err: unknown): never {
  const code = err instanceof PinetdError ? err.exitCode : 1;
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`pinetd: ${message}\n`);
  process.exit(code);
}

void main(process.argv.slice(2));
