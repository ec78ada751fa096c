/**
 * Resolves `--task`: a built-in name or a path to a module whose default export is the task.
 * Runs at startup only; any failure is a configuration error (exit 78), not a runtime one.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PinetdError } from '../errors.js';
import type { TaskFn } from './types.js';
import { importModule } from '../util/import-module.js';

export const BUILTIN_TASKS = ['board', 'gpio-inputs', 'ds18b20'] as const;

// Spelled out, not built from the name: a bundler can only follow literal imports, and only
// the task that is configured is loaded.
const BUILTIN: Record<(typeof BUILTIN_TASKS)[number], () => Promise<{ default: TaskFn }>> = {
  board: () => import('./board.js'),
  'gpio-inputs': () => import('./gpio-inputs.js'),
  ds18b20: () => import('./ds18b20.js'),
};

function isBuiltin(spec: string): spec is (typeof BUILTIN_TASKS)[number] {
  return (BUILTIN_TASKS as readonly string[]).includes(spec);
}

export interface LoadedTask {
  readonly name: string;
  readonly fn: TaskFn;
  /** Pins a module declares with `export const pins = { name: { pin, direction, activeLow } }`. */
  readonly pins?: Record<string, unknown>;
  /** A module's `export const entities = [{ key, name, unit?, deviceClass? }]` (validated by the MQTT outlet). */
  readonly entities?: unknown;
}

export async function loadTask(spec: string, cwd = process.cwd()): Promise<LoadedTask> {
  if (isBuiltin(spec)) {
    const mod = await BUILTIN[spec]();
    return { name: spec, fn: mod.default };
  }
  const looksLikePath = spec.includes('/') || spec.includes('\\') || /\.[cm]?js$/.test(spec);
  if (!looksLikePath) {
    throw new PinetdError('PINETD_E_TASK_LOAD', `invalid value for --task: '${spec}' (expected one of ${BUILTIN_TASKS.join(', ')}, or a path to a .js/.mjs task module)`);
  }
  const path = isAbsolute(spec) ? spec : resolve(cwd, spec);
  if (!existsSync(path)) throw new PinetdError('PINETD_E_TASK_LOAD', `invalid value for --task: '${spec}': no such file ${path}`);
  let mod: { default?: unknown; pins?: unknown; entities?: unknown };
  try {
    mod = (await importModule(pathToFileURL(path).href)) as typeof mod;
  } catch (err) {
    throw new PinetdError('PINETD_E_TASK_LOAD', `invalid value for --task: '${spec}': the module failed to load: ${(err as Error).message}`, { cause: err });
  }
  if (typeof mod.default !== 'function') {
    throw new PinetdError('PINETD_E_TASK_LOAD', `invalid value for --task: '${spec}': the module has no default-exported function (expected \`export default async function task(ctx) {...}\`)`);
  }
  const pins = mod.pins !== null && typeof mod.pins === 'object' ? (mod.pins as Record<string, unknown>) : undefined;
  return { name: path, fn: mod.default as TaskFn, ...(pins ? { pins } : {}), ...(mod.entities !== undefined ? { entities: mod.entities } : {}) };
}
