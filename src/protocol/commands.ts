/**
 * The line protocol's verbs: one request line in, exactly one response line out (without
 * its newline). Stateless apart from the injected store and per-connection session, so it
 * is tested without sockets.
 */
import { ProtocolError, errLine } from '../errors.js';
import { sessionAccess, tokenMatches, type AccessPolicy } from './access.js';
import { TEXT_MAX } from './line-parser.js';
import { isValidKey, KvStore } from './store.js';

/** What the daemon exposes to the protocol (the hub's payloads, built there once). */
export interface CommandHost {
  /** The STATUS object (serialised as one JSON line). */
  status(): object;
  /** The READ payload of the latest successful reading, or undefined before the first one. */
  readJson(): string | undefined;
  /** The HISTORY payload: a JSON array of the last n readings (all when n is undefined), oldest first. */
  historyJson(n?: number): string;
  readonly store: KvStore;
  /** The token and protected mode; absent: everyone may do everything. */
  readonly access?: AccessPolicy;
  /** A wrong AUTH token (log it, rate-limited). */
  onAuthFailure?(remote: string, failures: number): void;
}

/** The most HISTORY <n> accepts (the ring never holds more). */
export const MAX_HISTORY_REQUEST = 100_000;

/** Per-connection protocol state. */
export interface Session {
  /** Set by QUIT (and the last failed AUTH): after this answer the connection closes and reads nothing more. */
  quit: boolean;
  subscribed: boolean;
  /** `address:port` of the peer, for logs. */
  readonly remote: string;
  /** False until AUTH succeeds when a token is configured. */
  authenticated: boolean;
  /** False under protected mode for a peer that is not loopback. */
  mayWrite: boolean;
  authFailures: number;
}

export function newSession(access: AccessPolicy | undefined, peer: string | undefined, remote = peer ?? '?'): Session {
  return { quit: false, subscribed: false, remote, authFailures: 0, ...sessionAccess(access, peer) };
}

export const VERBS = ['PING', 'ECHO', 'STATUS', 'READ', 'HISTORY', 'SET', 'GET', 'DEL', 'SUBSCRIBE', 'UNSUBSCRIBE', 'AUTH', 'HELP', 'QUIT'] as const;
const KNOWN: ReadonlySet<string> = new Set(VERBS);
/** Allowed before AUTH. */
const OPEN: ReadonlySet<string> = new Set(['PING', 'HELP', 'QUIT', 'AUTH']);
/** Verbs that change state: refused under protected mode. Every new writing verb goes here. */
export const WRITE_VERBS: ReadonlySet<string> = new Set(['SET', 'DEL']);
/** Wrong tokens one connection may send; the last one closes it. */
export const MAX_AUTH_FAILURES = 3;
const PROTECTED_HINT = 'writes from other hosts are refused: set --allow or --auth-token-file (or --protected-mode off)';

const USAGE: Record<string, string> = {
  PING: 'PING',
  STATUS: 'STATUS',
  READ: 'READ',
  HISTORY: 'HISTORY [n]',
  SET: 'SET <key> <value>',
  GET: 'GET <key>',
  DEL: 'DEL <key>',
  SUBSCRIBE: 'SUBSCRIBE',
  UNSUBSCRIBE: 'UNSUBSCRIBE',
  AUTH: 'AUTH <token>',
  HELP: 'HELP',
  QUIT: 'QUIT',
};

const HELP_LINE = `verbs: ${VERBS.join(' ')}`;
/** An unknown verb is echoed back in the error, shortened: never reflect unbounded input. */
const MAX_VERB_ECHO = 32;

function usage(verb: string): string {
  return errLine(ProtocolError.USAGE, USAGE[verb] ?? verb);
}

function key(text: string): string | undefined {
  return isValidKey(text) ? text : undefined;
}

/**
 * An unknown verb as the error line may show it: printable ASCII only (anything else becomes
 * `?`, so no control byte, CR or escape sequence is reflected to the sender), shortened.
 */
export function printableVerb(verb: string): string {
  const short = verb.length > MAX_VERB_ECHO ? verb.slice(0, MAX_VERB_ECHO) : verb;
  const safe = /^[\x21-\x7e]*$/.test(short) ? short : short.replace(/[^\x21-\x7e]/gu, '?');
  return verb.length > MAX_VERB_ECHO ? `${safe}...` : safe;
}

function auth(token: string, host: CommandHost, session: Session): string {
  if (host.access?.tokenDigest === undefined) return errLine(ProtocolError.USAGE, 'AUTH <token> (no --auth-token-file is configured)');
  if (token === '') return usage('AUTH');
  if (tokenMatches(host.access, token)) {
    session.authenticated = true;
    return 'OK';
  }
  session.authFailures += 1;
  host.onAuthFailure?.(session.remote, session.authFailures);
  if (session.authFailures >= MAX_AUTH_FAILURES) session.quit = true;
  return errLine(ProtocolError.AUTH_FAILED);
}

/**
 * `ECHO <text>` answered on the bytes: the rest of the line as received, never decoded and
 * encoded again (half the CPU of a pipelined 1 KiB echo). True when `bytes[start, end)` is an
 * ECHO this fast path answers: its answer is `bytes[start + 5, end)`. The caller moves it
 * there itself (batch.ts, in place). The bytes are valid UTF-8 (the parser checked them).
 * Only lines the parser hands out as bytes (TEXT_MAX or more) come here; shorter ones arrive
 * as text already, sliced from the read (line-parser.ts), which is cheaper than any view.
 */
export const ECHO_BYTES_MIN = TEXT_MAX;
/** Where an ECHO's answer starts in its line (after `ECHO `). */
export const ECHO_PREFIX = 5;

export function isEchoBytes(bytes: Buffer, start: number, end: number, session: Session): boolean {
  // 'E' 'C' 'H' 'O' ' ', the canonical spelling only; anything else takes the general path.
  if (end - start < ECHO_BYTES_MIN || bytes[start] !== 0x45 || bytes[start + 1] !== 0x43 || bytes[start + 2] !== 0x48 || bytes[start + 3] !== 0x4f || bytes[start + 4] !== 0x20) return false;
  return session.authenticated;
}

/**
 * The two requests that arrive by the thousand (pipelined health checks, echo loads), in
 * their canonical spelling: answered without splitting and upper-casing the line, or
 * undefined (then handleLine). Small enough for V8 to inline into the batch loop, which
 * cannot inline handleLine: the call was a fifth of the loop's time (CPU profile).
 */
export function quickAnswer(raw: string, session: Session): string | undefined {
  if (raw === 'PING') return 'PONG';
  if (session.authenticated && raw.startsWith('ECHO ')) return raw.slice(5);
  return undefined;
}

export function handleLine(raw: string, host: CommandHost, session: Session): string {
  const quick = quickAnswer(raw, session);
  if (quick !== undefined) return quick;
  // Leading blanks are forgiven (telnet users); a blank line is an error of its own.
  const line = raw.trimStart();
  if (line === '') return errLine(ProtocolError.EMPTY_COMMAND);
  const space = line.indexOf(' ');
  const verb = (space === -1 ? line : line.slice(0, space)).toUpperCase();
  const rest = space === -1 ? '' : line.slice(space + 1);
  const bare = rest.trim() === '';
  // Two booleans on the common path; the sets only when a restriction applies.
  if (!session.authenticated && !OPEN.has(verb) && KNOWN.has(verb)) return errLine(ProtocolError.AUTH_REQUIRED);
  if (!session.mayWrite && WRITE_VERBS.has(verb)) return errLine(ProtocolError.PROTECTED, PROTECTED_HINT);

  switch (verb) {
    case 'PING':
      return bare ? 'PONG' : usage(verb);
    case 'ECHO':
      return rest;
    case 'STATUS':
      return bare ? JSON.stringify(host.status()) : usage(verb);
    case 'READ': {
      if (!bare) return usage(verb);
      return host.readJson() ?? errLine(ProtocolError.NO_READING);
    }
    case 'HISTORY': {
      if (bare) return host.historyJson();
      const arg = rest.trim();
      const n = /^\d{1,6}$/.test(arg) ? Number(arg) : NaN;
      return n <= MAX_HISTORY_REQUEST ? host.historyJson(n) : usage(verb);
    }
    case 'SET': {
      const sep = rest.indexOf(' ');
      const k = sep === -1 ? undefined : key(rest.slice(0, sep));
      const value = sep === -1 ? '' : rest.slice(sep + 1);
      if (k === undefined || value === '') return usage(verb);
      return host.store.set(k, value) ? 'OK' : errLine(ProtocolError.STORE_FULL, `${host.store.size} keys, ${host.store.bytes} bytes`);
    }
    case 'GET': {
      const k = key(rest);
      if (k === undefined) return usage(verb);
      return host.store.get(k) ?? 'NOT_FOUND';
    }
    case 'DEL': {
      const k = key(rest);
      if (k === undefined) return usage(verb);
      return host.store.delete(k) ? 'DELETED' : 'NOT_FOUND';
    }
    case 'SUBSCRIBE':
      if (!bare) return usage(verb);
      session.subscribed = true;
      return 'OK';
    case 'UNSUBSCRIBE':
      if (!bare) return usage(verb);
      session.subscribed = false;
      return 'OK';
    case 'AUTH':
      return auth(rest.trim(), host, session);
    case 'HELP':
      return bare ? HELP_LINE : usage(verb);
    case 'QUIT':
      if (!bare) return usage(verb);
      session.quit = true;
      return 'BYE';
    default:
      return errLine(ProtocolError.UNKNOWN_COMMAND, printableVerb(verb));
  }
}
