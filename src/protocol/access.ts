/**
 * Who may change things: the AUTH token and protected mode (after Redis's `requirepass` and
 * `protected-mode`). Decided once at startup (`loadAccessPolicy`), applied per connection
 * when its session is made (`sessionAccess`), checked per request in commands.ts with two
 * booleans, so a daemon without a token or protected mode pays nothing per line.
 */
import type * as Crypto from 'node:crypto';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { readSecretFile } from '../config/secret-file.js';
import { normaliseAddress } from '../net/access.js';

export const MIN_TOKEN_LENGTH = 16;

export interface AccessPolicy {
  /** SHA-256 of the token; absent: no AUTH needed. */
  readonly tokenDigest?: Buffer;
  /** Protected mode is in force: writes only from loopback peers. */
  readonly protectWrites: boolean;
}

export interface AccessConfig {
  readonly host: string;
  readonly allow: readonly string[];
  readonly authTokenFile: string | null;
  readonly protectedMode: 'on' | 'off';
}

// node:crypto is about 7 ms of start-up on Node 20 (measured): loaded only once a token is used.
let crypto: typeof Crypto | undefined;
const loadCrypto = (): typeof Crypto => (crypto ??= createRequire(import.meta.url)('node:crypto') as typeof Crypto);

function digest(text: string): Buffer {
  return loadCrypto().createHash('sha256').update(text, 'utf8').digest();
}

/** Constant time: both sides are hashed to 32 bytes first, so even the length does not leak. */
export function tokenMatches(policy: AccessPolicy, given: string): boolean {
  return policy.tokenDigest !== undefined && loadCrypto().timingSafeEqual(digest(given), policy.tokenDigest);
}

export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = normaliseAddress(address);
  if (isIP(a) === 4) return a.startsWith('127.');
  return a === '::1';
}

/** A listen address only this machine can reach. A host name other than localhost may be anything. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || isLoopbackAddress(host);
}

/** Protected mode applies: on, listening beyond loopback, and neither --allow nor a token. */
export function protectsWrites(config: Omit<AccessConfig, 'authTokenFile'> & { readonly hasToken: boolean }): boolean {
  return config.protectedMode === 'on' && !isLoopbackHost(config.host) && config.allow.length === 0 && !config.hasToken;
}

/** Reads the token file (PINETD_E_CONFIG, exit 78, when it is unsafe, empty or short). */
export function loadAccessPolicy(config: AccessConfig, readToken: typeof readSecretFile = readSecretFile): AccessPolicy {
  const token = config.authTokenFile === null ? undefined : readToken(config.authTokenFile, 'auth token', MIN_TOKEN_LENGTH);
  return {
    ...(token === undefined ? {} : { tokenDigest: digest(token) }),
    protectWrites: protectsWrites({ ...config, hasToken: token !== undefined }),
  };
}

/** A new connection's standing: authenticated (no token needed) and allowed to write. */
export function sessionAccess(policy: AccessPolicy | undefined, peer: string | undefined): { authenticated: boolean; mayWrite: boolean } {
  return {
    authenticated: policy?.tokenDigest === undefined,
    mayWrite: !(policy?.protectWrites ?? false) || isLoopbackAddress(peer),
  };
}
