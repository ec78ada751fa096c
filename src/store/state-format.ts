/**
 * What --state-dir holds, version 1: `kv.json` (the key-value store, flushed while running)
 * and `history.json` (the reading history, saved at shutdown). Both carry a version field; a
 * file that does not decode is reported, never half-loaded.
 *
 *   kv.json       {"version":1,"savedAt":"…","kv":[["key","value"],…]}
 *   history.json  {"version":1,"savedAt":"…","history":[{"at":…,"durationMs":…,"value":…},…]}
 */
import type { History, Reading } from '../hub/history.js';
import { isValidKey, type KvStore } from '../protocol/store.js';

export const FORMAT_VERSION = 1;
export const KV_FILE = 'kv.json';
export const HISTORY_FILE = 'history.json';

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

export function encodeKv(store: KvStore, now: Date): string {
  return JSON.stringify({ version: FORMAT_VERSION, savedAt: now.toISOString(), kv: [...store.entries()] });
}

/** Each history entry already holds its JSON: the file is assembled, not serialised again. */
export function encodeHistory(history: History, now: Date): string {
  const entries = history.last().map((e) => e.json).join(',');
  return `{"version":${FORMAT_VERSION},"savedAt":${JSON.stringify(now.toISOString())},"history":[${entries}]}`;
}

function versioned(data: unknown, field: string): Decoded<unknown[]> {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return { ok: false, reason: 'not a JSON object' };
  const record = data as Record<string, unknown>;
  if (record.version !== FORMAT_VERSION) return { ok: false, reason: `unknown format version ${JSON.stringify(record.version)} (this pinetd reads version ${FORMAT_VERSION})` };
  const list = record[field];
  return Array.isArray(list) ? { ok: true, value: list } : { ok: false, reason: `"${field}" is not an array` };
}

export function decodeKv(data: unknown): Decoded<Array<[string, string]>> {
  const list = versioned(data, 'kv');
  if (!list.ok) return list;
  const pairs: Array<[string, string]> = [];
  for (const item of list.value) {
    if (!Array.isArray(item) || item.length !== 2 || typeof item[0] !== 'string' || typeof item[1] !== 'string' || !isValidKey(item[0]) || item[1] === '') {
      return { ok: false, reason: `invalid entry ${JSON.stringify(item).slice(0, 80)}` };
    }
    pairs.push([item[0], item[1]]);
  }
  return { ok: true, value: pairs };
}

export function decodeHistory(data: unknown): Decoded<Reading[]> {
  const list = versioned(data, 'history');
  if (!list.ok) return list;
  const readings: Reading[] = [];
  for (const item of list.value) {
    const r = item as Partial<Record<keyof Reading, unknown>> | null;
    if (r === null || typeof r !== 'object' || typeof r.at !== 'string' || typeof r.durationMs !== 'number') {
      return { ok: false, reason: `invalid reading ${JSON.stringify(item).slice(0, 80)}` };
    }
    readings.push({ at: r.at, durationMs: r.durationMs, value: r.value ?? null });
  }
  return { ok: true, value: readings };
}
