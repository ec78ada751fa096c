/**
 * pino on stdout with the synchronous destination: journald reads stdout, and a sync write
 * means nothing logged is lost when the process exits (no transport, no worker thread —
 * a transport costs ~10 MB, a lot on a Pi Zero 2).
 * Pretty output only for a human at a terminal, and only if pino-pretty (a devDependency)
 * is installed; it is loaded in-process, not as a transport.
 */
import { createRequire } from 'node:module';
import pino, { type DestinationStream, type Logger } from 'pino';

export interface LoggerOptions {
  readonly level: string;
  /** Default: stdout is a TTY. */
  readonly pretty?: boolean;
  readonly destination?: DestinationStream;
}

export function createLogger({ level, pretty = process.stdout.isTTY === true, destination }: LoggerOptions): Logger {
  const options = { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  if (destination) return pino(options, destination);
  if (pretty) {
    const stream = loadPretty();
    if (stream) return pino(options, stream);
  }
  return pino(options, pino.destination({ dest: 1, sync: true }));
}

function loadPretty(): DestinationStream | undefined {
  try {
    const require = createRequire(import.meta.url);
    const pretty = require('pino-pretty') as (opts: object) => DestinationStream;
    return pretty({ sync: true, colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' });
  } catch {
    return undefined; // production install (--omit=dev): JSON it is
  }
}
