import { describe, expect, it } from 'vitest';
import { loadAccessPolicy, type AccessPolicy } from '../../src/protocol/access.js';
import { ECHO_BYTES_MIN, ECHO_PREFIX, handleLine, isEchoBytes, newSession, type CommandHost } from '../../src/protocol/commands.js';
import { KvStore } from '../../src/protocol/store.js';

function setup(reading: object | null = null, store = new KvStore(), history: object[] = [], access?: AccessPolicy, peer = '127.0.0.1') {
  const failures: Array<[string, number]> = [];
  const host: CommandHost = {
    store,
    status: () => ({ state: 'serving', clients: 1 }),
    readJson: () => (reading ? JSON.stringify(reading) : undefined),
    historyJson: (n) => JSON.stringify(n === undefined ? history : history.slice(Math.max(0, history.length - n))),
    ...(access ? { access } : {}),
    onAuthFailure: (remote, n) => failures.push([remote, n]),
  };
  const session = newSession(access, peer, `${peer}:4242`);
  return { send: (line: string) => handleLine(line, host, session), session, store, failures };
}

const TOKEN = 'correct horse battery staple';
/** A policy as loadAccessPolicy makes it, the token file read by a stub. */
function policy(opts: { token?: string; host?: string; allow?: string[]; protectedMode?: 'on' | 'off' } = {}): AccessPolicy {
  return loadAccessPolicy(
    { host: opts.host ?? '0.0.0.0', allow: opts.allow ?? [], authTokenFile: opts.token === undefined ? null : '/token', protectedMode: opts.protectedMode ?? 'on' },
    () => opts.token ?? '',
  );
}

describe('line protocol commands', () => {
  it('PING answers PONG, case-insensitively; arguments are a usage error', () => {
    const { send } = setup();
    expect(send('PING')).toBe('PONG');
    expect(send('ping')).toBe('PONG');
    expect(send('PiNg ')).toBe('PONG');
    expect(send('PING x')).toBe('ERR usage PING');
  });

  it('ECHO answers the verbatim rest of the line, empty for none', () => {
    const { send } = setup();
    expect(send('ECHO hello  world ')).toBe('hello  world ');
    expect(send('echo  leading')).toBe(' leading');
    expect(send('ECHO')).toBe('');
    expect(send('ECHO ')).toBe('');
  });

  it('STATUS answers one JSON line from the host', () => {
    const { send } = setup();
    expect(JSON.parse(send('STATUS'))).toEqual({ state: 'serving', clients: 1 });
    expect(send('STATUS now')).toBe('ERR usage STATUS');
  });

  it('READ answers ERR no-reading before the first run, then the reading as JSON', () => {
    expect(setup().send('READ')).toBe('ERR no-reading');
    const reading = { at: '2026-01-01T00:00:00.000Z', ok: true, durationMs: 3, value: { t: 21.5 } };
    expect(JSON.parse(setup(reading).send('READ'))).toEqual(reading);
    expect(setup(reading).send('READ x')).toBe('ERR usage READ');
  });

  it('HISTORY answers the history array, HISTORY n the last n; anything else is its usage', () => {
    const history = [{ v: 1 }, { v: 2 }, { v: 3 }];
    const { send } = setup(null, new KvStore(), history);
    expect(JSON.parse(send('HISTORY'))).toEqual(history);
    expect(JSON.parse(send('history 2'))).toEqual([{ v: 2 }, { v: 3 }]);
    expect(JSON.parse(send('HISTORY 0'))).toEqual([]);
    expect(JSON.parse(send('HISTORY  100000 '))).toEqual(history);
    for (const bad of ['HISTORY -1', 'HISTORY 1.5', 'HISTORY x', 'HISTORY 100001', 'HISTORY 1 2', 'HISTORY 0x10']) {
      expect(send(bad), bad).toBe('ERR usage HISTORY [n]');
    }
  });

  it('SET/GET/DEL store, fetch, and delete values that may contain spaces', () => {
    const { send } = setup();
    expect(send('GET k')).toBe('NOT_FOUND');
    expect(send('SET k hello there')).toBe('OK');
    expect(send('GET k')).toBe('hello there');
    expect(send('set k  two')).toBe('OK');
    expect(send('GET k')).toBe(' two');
    expect(send('DEL k')).toBe('DELETED');
    expect(send('DEL k')).toBe('NOT_FOUND');
    expect(send('GET k')).toBe('NOT_FOUND');
  });

  it('SET/GET/DEL with the wrong arity answer their usage', () => {
    const { send } = setup();
    expect(send('SET k')).toBe('ERR usage SET <key> <value>');
    expect(send('SET')).toBe('ERR usage SET <key> <value>');
    expect(send('SET k ')).toBe('ERR usage SET <key> <value>');
    expect(send('GET')).toBe('ERR usage GET <key>');
    expect(send('GET a b')).toBe('ERR usage GET <key>');
    expect(send('DEL')).toBe('ERR usage DEL <key>');
    expect(send(`GET ${'k'.repeat(257)}`)).toBe('ERR usage GET <key>');
  });

  it('a full store refuses new keys but still overwrites existing ones', () => {
    const { send } = setup(null, new KvStore(2));
    expect(send('SET a 1')).toBe('OK');
    expect(send('SET b 2')).toBe('OK');
    expect(send('SET c 3')).toBe('ERR store-full 2 keys, 4 bytes');
    expect(send('SET a 9')).toBe('OK');
    expect(send('GET a')).toBe('9');
  });

  it('a store over its byte budget refuses the write, and DEL gives the room back', () => {
    const { send } = setup(null, new KvStore(100, 20));
    expect(send(`SET a ${'x'.repeat(15)}`)).toBe('OK'); // 16 bytes
    expect(send('SET b 12345')).toBe('ERR store-full 1 keys, 16 bytes');
    expect(send(`SET a ${'y'.repeat(20)}`)).toBe('ERR store-full 1 keys, 16 bytes'); // 21 bytes: overwrite too big
    expect(send('GET a')).toBe('x'.repeat(15));
    expect(send('DEL a')).toBe('DELETED');
    expect(send('SET b 12345')).toBe('OK');
  });

  it('SUBSCRIBE and UNSUBSCRIBE toggle the session', () => {
    const { send, session } = setup();
    expect(send('SUBSCRIBE')).toBe('OK');
    expect(session.subscribed).toBe(true);
    expect(send('UNSUBSCRIBE')).toBe('OK');
    expect(session.subscribed).toBe(false);
  });

  it('HELP lists every verb', () => {
    expect(setup().send('HELP')).toBe('verbs: PING ECHO STATUS READ HISTORY SET GET DEL SUBSCRIBE UNSUBSCRIBE AUTH HELP QUIT');
  });

  it('QUIT answers BYE and marks the session', () => {
    const { send, session } = setup();
    expect(send('QUIT')).toBe('BYE');
    expect(session.quit).toBe(true);
  });

  it('empty and unknown commands get stable error codes', () => {
    const { send } = setup();
    expect(send('')).toBe('ERR empty-command');
    expect(send('   ')).toBe('ERR empty-command');
    expect(send('frobnicate now')).toBe('ERR unknown-command FROBNICATE');
    expect(send(`${'x'.repeat(100)}`)).toBe(`ERR unknown-command ${'X'.repeat(32)}...`);
  });

  it('an unknown verb is echoed as printable ASCII only: no control byte, CR or escape reaches the sender', () => {
    const { send } = setup();
    expect(send('GE\x00T\rk')).toBe('ERR unknown-command GE?T?K');
    expect(send('\x1b[2Jx')).toBe('ERR unknown-command ?[2JX');
    expect(send('nöpe😀')).toBe('ERR unknown-command N?PE?');
    const reply = send(`${'\x07'.repeat(100)}`);
    expect(reply).toBe(`ERR unknown-command ${'?'.repeat(32)}...`);
    expect(/[^\x20-\x7e]/.test(send('\x7f\x85\u2028'))).toBe(false);
  });

  it('keys may not contain control characters; values round-trip exactly, any valid UTF-8', () => {
    const { send } = setup();
    for (const bad of ['SET a\x00b v', 'SET a\x1bb v', 'SET a\tb v', 'SET a\x7fb v', 'SET a\u0085b v', 'GET a\x01', 'DEL a\rb']) {
      expect(send(bad), JSON.stringify(bad)).toMatch(/^ERR usage (SET|GET|DEL) /);
    }
    const value = 'é€😀\u00a0\x01\ttab\u2028 end ';
    expect(send(`SET ключ ${value}`)).toBe('OK');
    expect(send('GET ключ')).toBe(value);
  });

  describe('AUTH', () => {
    it('before AUTH only PING, HELP, QUIT and AUTH work; everything else is ERR auth-required', () => {
      const { send } = setup(null, new KvStore(), [], policy({ token: TOKEN }));
      expect(send('PING')).toBe('PONG');
      expect(send('HELP')).toMatch(/^verbs: /);
      for (const line of ['GET k', 'SET k v', 'DEL k', 'STATUS', 'READ', 'HISTORY', 'SUBSCRIBE', 'ECHO hi', 'status']) {
        expect(send(line), line).toBe('ERR auth-required');
      }
      expect(send('AUTH')).toBe('ERR usage AUTH <token>');
      expect(send(`AUTH ${TOKEN}`)).toBe('OK');
      expect(send('SET k v')).toBe('OK');
      expect(send('GET k')).toBe('v');
    });

    it('a wrong token is ERR auth-failed, reported with the remote address; the third failure closes', () => {
      const { send, session, failures } = setup(null, new KvStore(), [], policy({ token: TOKEN }), '10.0.0.7');
      expect(send('AUTH wrong')).toBe('ERR auth-failed');
      expect(send(`AUTH ${TOKEN.slice(0, -1)}`)).toBe('ERR auth-failed'); // a prefix is not the token
      expect(session.quit).toBe(false);
      expect(send('GET k')).toBe('ERR auth-required');
      expect(send(`AUTH ${TOKEN}x`)).toBe('ERR auth-failed');
      expect(session.quit).toBe(true);
      expect(failures).toEqual([['10.0.0.7:4242', 1], ['10.0.0.7:4242', 2], ['10.0.0.7:4242', 3]]);
    });

    it('without a token configured, AUTH says so and nothing needs it', () => {
      const { send } = setup();
      expect(send('AUTH anything')).toBe('ERR usage AUTH <token> (no --auth-token-file is configured)');
      expect(send('SET k v')).toBe('OK');
    });
  });

  describe('protected mode (the decision, with an injected peer address)', () => {
    it('applies when listening beyond loopback with neither --allow nor a token, unless off', () => {
      expect(policy().protectWrites).toBe(true);
      expect(policy({ host: '::' }).protectWrites).toBe(true);
      expect(policy({ host: 'pi.local' }).protectWrites).toBe(true);
      expect(policy({ host: '127.0.0.1' }).protectWrites).toBe(false);
      expect(policy({ host: 'localhost' }).protectWrites).toBe(false);
      expect(policy({ host: '::1' }).protectWrites).toBe(false);
      expect(policy({ allow: ['192.168.1.0/24'] }).protectWrites).toBe(false);
      expect(policy({ token: TOKEN }).protectWrites).toBe(false);
      expect(policy({ protectedMode: 'off' }).protectWrites).toBe(false);
    });

    it('refuses SET and DEL from a non-loopback peer with a hint; reads stay open; loopback peers may write', () => {
      const store = new KvStore();
      const local = setup(null, store, [], policy(), '127.0.0.1');
      expect(local.send('SET k v')).toBe('OK');
      for (const peer of ['192.168.1.20', '10.200.0.2', 'fd00::5', '::ffff:192.168.1.20']) {
        const { send } = setup({ at: 'x', ok: true, durationMs: 1, value: 1 }, store, [], policy(), peer);
        for (const line of ['SET k w', 'DEL k', 'set k w']) {
          expect(send(line), `${peer}: ${line}`).toBe('ERR protected writes from other hosts are refused: set --allow or --auth-token-file (or --protected-mode off)');
        }
        expect(send('GET k')).toBe('v');
        expect(send('READ')).toMatch(/^\{/);
        expect(send('HISTORY')).toBe('[]');
        expect(send('SUBSCRIBE')).toBe('OK');
        expect(JSON.parse(send('STATUS'))).toMatchObject({ state: 'serving' });
      }
      for (const peer of ['::1', '::ffff:127.0.0.1', '127.0.0.2']) {
        expect(setup(null, store, [], policy(), peer).send('SET k v'), peer).toBe('OK');
      }
    });
  });
});

describe('byte-level fast path (isEchoBytes)', () => {
  const open = newSession(undefined, '127.0.0.1');
  it('answers a long ECHO on the bytes, exactly as handleLine would, also inside a larger read', () => {
    const text = 'é€😀 x'.repeat(60);
    const line = `ECHO ${text}`;
    const read = Buffer.from(`PING\n${line}\nPING\n`);
    const start = 5;
    const end = start + Buffer.byteLength(line);
    expect(end - start).toBeGreaterThanOrEqual(ECHO_BYTES_MIN);
    expect(isEchoBytes(read, start, end, open)).toBe(true);
    const host = { store: new KvStore(), status: () => ({}), readJson: () => undefined, historyJson: () => '[]' };
    expect(read.toString('utf8', start + ECHO_PREFIX, end)).toBe(handleLine(line, host, open));
  });

  it('leaves everything else to handleLine: short or other-case ECHO, PING with arguments, other verbs', () => {
    for (const other of ['PING', 'ECHO hi', `echo ${'x'.repeat(300)}`, 'PING ', 'PINGS', 'ping', `ECHOX${'x'.repeat(300)}`, 'STATUS']) {
      const bytes = Buffer.from(`x${other}x`);
      expect(isEchoBytes(bytes, 1, bytes.length - 1, open), other).toBe(false);
    }
    // The bounds count, not the buffer: a short line followed by more bytes is still short.
    expect(isEchoBytes(Buffer.from(`ECHO hi\n${'x'.repeat(300)}`), 0, 7, open)).toBe(false);
  });

  it('never bypasses AUTH: a connection that has not authenticated gets no ECHO fast path', () => {
    const locked = newSession(policy({ token: TOKEN }), '127.0.0.1');
    expect(locked.authenticated).toBe(false);
    const bytes = Buffer.from(`ECHO ${'x'.repeat(300)}`);
    expect(isEchoBytes(bytes, 0, bytes.length, locked)).toBe(false);
  });
});
