/**
 * Who may connect, shared by every listening outlet (TCP, HTTP): the `--allow` list (CIDRs
 * in node:net's BlockList, IPv4 and IPv6) and the per-address connection cap.
 */
import { BlockList, isIP } from 'node:net';

export interface AllowList {
  /** The entries as given, normalised (`10.0.0.0/8`, `::1/128`). Empty = no restriction. */
  readonly entries: readonly string[];
  allows(address: string | undefined): boolean;
}

/** Splits `a,b, c` into CIDRs; undefined on the first invalid entry, with that entry. */
export function parseCidrs(text: string): { ok: true; entries: string[] } | { ok: false; entry: string } {
  const entries: string[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const slash = item.indexOf('/');
    const address = slash === -1 ? item : item.slice(0, slash);
    const family = isIP(address);
    const max = family === 4 ? 32 : 128;
    const prefix = slash === -1 ? max : /^\d{1,3}$/.test(item.slice(slash + 1)) ? Number(item.slice(slash + 1)) : NaN;
    if (family === 0 || !(prefix >= 0 && prefix <= max)) return { ok: false, entry: item };
    entries.push(`${address}/${prefix}`);
  }
  return { ok: true, entries };
}

/** An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d; match it as IPv4. */
export function normaliseAddress(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

export function createAllowList(entries: readonly string[]): AllowList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefix = ''] = entry.split('/');
    list.addSubnet(address, Number(prefix), isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }
  return {
    entries,
    allows(address) {
      if (entries.length === 0) return true;
      if (address === undefined) return false;
      const a = normaliseAddress(address);
      const family = isIP(a);
      return family !== 0 && list.check(a, family === 6 ? 'ipv6' : 'ipv4');
    },
  };
}

/** Concurrent connections per remote address, capped (0 = no cap). */
export class PeerLimiter {
  readonly #max: number;
  readonly #counts = new Map<string, number>();

  constructor(max: number) {
    this.#max = max;
  }

  /** Takes a slot for address; false when it already holds the maximum. */
  acquire(address: string | undefined): boolean {
    const key = normaliseAddress(address ?? '?');
    const n = this.#counts.get(key) ?? 0;
    if (this.#max > 0 && n >= this.#max) return false;
    this.#counts.set(key, n + 1);
    return true;
  }

  release(address: string | undefined): void {
    const key = normaliseAddress(address ?? '?');
    const n = this.#counts.get(key) ?? 0;
    if (n <= 1) this.#counts.delete(key);
    else this.#counts.set(key, n - 1);
  }

  count(address: string): number {
    return this.#counts.get(normaliseAddress(address)) ?? 0;
  }
}
