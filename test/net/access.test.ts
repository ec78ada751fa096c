import { describe, expect, it } from 'vitest';
import { createAllowList, parseCidrs, PeerLimiter } from '../../src/net/access.js';
import { loadConfig } from '../../src/config/load.js';

describe('allow-list', () => {
  it('parses IPv4 and IPv6 CIDRs and bare addresses', () => {
    expect(parseCidrs('192.168.1.0/24, fd00::/8,127.0.0.1')).toEqual({ ok: true, entries: ['192.168.1.0/24', 'fd00::/8', '127.0.0.1/32'] });
    for (const bad of ['192.168.1.0/33', '10.0.0.0/x', 'nope', '::1/129', '1.2.3/8', '10.0.0.0/-1']) {
      expect(parseCidrs(`127.0.0.1,${bad}`)).toEqual({ ok: false, entry: bad });
    }
  });

  it('admits only matching peers, IPv4-mapped IPv6 included; empty admits everyone', () => {
    const list = createAllowList(['192.168.1.0/24', 'fd00::/8', '127.0.0.1/32']);
    expect(list.allows('192.168.1.77')).toBe(true);
    expect(list.allows('::ffff:192.168.1.77')).toBe(true);
    expect(list.allows('192.168.2.1')).toBe(false);
    expect(list.allows('127.0.0.2')).toBe(false);
    expect(list.allows('fd12:3456::1')).toBe(true);
    expect(list.allows('fe80::1')).toBe(false);
    expect(list.allows(undefined)).toBe(false);
    expect(createAllowList([]).allows('8.8.8.8')).toBe(true);
  });

  it('an invalid --allow entry is a configuration error naming it', () => {
    expect(() => loadConfig({ argv: ['--allow', '10.0.0.0/8,300.1.1.1'], env: {} })).toThrow(/--allow.*'300\.1\.1\.1' is not one/);
    const run = loadConfig({ argv: ['--allow', '10.0.0.0/8,::1'], env: {} });
    expect(run.action === 'run' && run.config.allow).toEqual(['10.0.0.0/8', '::1/128']);
  });
});

describe('PeerLimiter', () => {
  it('caps concurrent connections per address and frees slots on release', () => {
    const l = new PeerLimiter(2);
    expect(l.acquire('10.0.0.1')).toBe(true);
    expect(l.acquire('::ffff:10.0.0.1')).toBe(true); // the same peer
    expect(l.acquire('10.0.0.1')).toBe(false);
    expect(l.acquire('10.0.0.2')).toBe(true);
    l.release('10.0.0.1');
    expect(l.count('10.0.0.1')).toBe(1);
    expect(l.acquire('10.0.0.1')).toBe(true);
    expect(new PeerLimiter(0).acquire('x')).toBe(true);
  });
});
