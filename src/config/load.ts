/**
 * Builds the effective Config from flags > environment > config file > defaults.
 * Pure apart from reading the config file (injectable), so every path is unit-testable.
 * Every failure is a PinetdError PINETD_E_CONFIG whose message is the one line an operator
 * needs: which option, which value, what is accepted.
 */
import { readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PinetdError } from '../errors.js';
import { formatDuration } from './duration.js';
import { DEFAULTS, DURATION_KEYS, OPTIONS, type Config, type OptionDef } from './options.js';

export type LoadResult =
  | { action: 'run' | 'print-config'; config: Config; warnings: string[] }
  | { action: 'help' }
  | { action: 'version' };

export interface Sources {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  readFile?: (path: string) => string;
}

const MAX_CONFIG_BYTES = 1024 * 1024;

/** PINETD_ variables that are not options: read before the config (the launcher's code cache, src/cli/pinetd.cts). */
const NOT_OPTIONS: ReadonlySet<string> = new Set(['PINETD_CODE_CACHE']);

function configError(message: string, cause?: unknown): PinetdError {
  return new PinetdError('PINETD_E_CONFIG', message, cause === undefined ? undefined : { cause });
}

function show(raw: unknown): string {
  const s = typeof raw === 'string' ? `'${raw}'` : JSON.stringify(raw) ?? String(raw);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function apply(target: Partial<Config>, opt: OptionDef, raw: unknown, where: string): void {
  const parsed = opt.parse(raw);
  if (!parsed.ok) throw configError(`invalid value for ${where}: ${show(raw)} (expected ${parsed.expected})`);
  (target as Record<string, unknown>)[opt.key] = parsed.value;
}

function parseFlags(argv: readonly string[]) {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' },
    'print-config': { type: 'boolean' },
  };
  for (const opt of OPTIONS) if (!opt.fileOnly) options[opt.flag.slice(2)] = { type: 'string' };
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    const code = (err as { code?: string }).code;
    const msg = (err as Error).message;
    const name = /'(-[^' ]*)/.exec(msg)?.[1] ?? '';
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw configError(`unknown option ${name} (see --help for the options)`, err);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw configError(`option ${name} needs a value (see --help)`, err);
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw configError(`unexpected argument ${/'([^']*)'/.exec(msg)?.[1] ?? ''} (options start with --; see --help)`, err);
    throw configError(msg, err);
  }
}

/** Checks the size before reading: a wrong path (a log, a disk image) must not be slurped whole. */
function readConfigText(path: string): string {
  if (statSync(path).size > MAX_CONFIG_BYTES) throw configError(`config file ${path} is larger than 1 MiB (expected a small JSON file)`);
  return readFileSync(path, 'utf8');
}

function readConfigFile(path: string, readFile: (p: string) => string): Record<string, unknown> {
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    if (err instanceof PinetdError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw configError(`cannot read config file ${path}: ${code} (expected a readable JSON file)`, err);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw configError(`config file ${path} is not valid JSON: ${(err as Error).message}`, err);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw configError(`config file ${path} must hold a JSON object of options, got ${show(data)}`);
  }
  return data as Record<string, unknown>;
}

export function loadConfig({ argv, env, readFile = readConfigText }: Sources): LoadResult {
  const flags = parseFlags(argv);
  if (flags.help) return { action: 'help' };
  if (flags.version) return { action: 'version' };

  const byKey = new Map(OPTIONS.map((o) => [o.key as string, o]));
  const byEnv = new Map(OPTIONS.filter((o) => !o.fileOnly).map((o) => [o.env, o]));
  const warnings: string[] = [];

  // Environment: validated now, applied after the file so it wins over it.
  const fromEnv: Partial<Config> = {};
  const unknownEnv: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('PINETD_') || value === undefined || NOT_OPTIONS.has(name)) continue;
    const opt = byEnv.get(name);
    if (opt) apply(fromEnv, opt, value, name);
    else unknownEnv.push(name);
  }
  if (unknownEnv.length > 0) warnings.push(`ignoring unknown environment variables: ${unknownEnv.sort().join(', ')}`);

  const fromFlags: Partial<Config> = {};
  for (const opt of OPTIONS) {
    const raw = flags[opt.flag.slice(2)];
    if (raw !== undefined) apply(fromFlags, opt, raw, opt.flag);
  }

  const configPath = fromFlags.config ?? fromEnv.config ?? null;
  const fromFile: Partial<Config> = {};
  if (configPath) {
    const data = readConfigFile(configPath, readFile);
    for (const [key, raw] of Object.entries(data)) {
      const opt = byKey.get(key);
      if (!opt || key === 'config') {
        throw configError(`unknown key "${key}" in config file ${configPath} (keys are camelCase option names, e.g. pauseEvery)`);
      }
      apply(fromFile, opt, raw, `"${key}" in ${configPath}`);
    }
  }

  const config: Config = { ...DEFAULTS, ...fromFile, ...fromEnv, ...fromFlags, config: configPath };
  return { action: flags['print-config'] ? 'print-config' : 'run', config, warnings };
}

export function helpText(version: string): string {
  const rows = OPTIONS.filter((o) => !o.fileOnly).map((o) => {
    const d = DEFAULTS[o.key];
    const shown = d === null || (Array.isArray(d) && d.length === 0) ? '' : ` (default: ${typeof d === 'number' && DURATION_KEYS.has(o.key) ? formatDuration(d) : String(d)})`;
    return `  ${`${o.flag} ${o.arg}`.padEnd(28)} ${o.describe}${shown}`;
  });
  return [
    `pinetd ${version}: a lean network daemon for Raspberry Pi-class boards`,
    '',
    'Usage: pinetd [options]',
    '       pinetd client [--host H] [--port P] [COMMAND ...]',
    '       pinetd fleet --mqtt URL [--mqtt-prefix-root pinetd] [--watch]',
    '',
    'Options (each also settable as PINETD_<NAME> and as a camelCase key of --config FILE;',
    'precedence: flag > environment > file > default):',
    ...rows,
    `  ${'--print-config'.padEnd(28)} print the effective configuration as JSON (durations in ms) and exit`,
    `  ${'-h, --help'.padEnd(28)} show this help`,
    `  ${'-v, --version'.padEnd(28)} print the version`,
    '',
    'Durations accept 250ms, 5s, 2m; a bare number means seconds.',
    'Exit status: 0 clean shutdown, 1 runtime failure (e.g. port in use), 78 configuration error,',
    '128+N forced exit on a second signal N.',
  ].join('\n');
}
