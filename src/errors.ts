/**
 * The one registry of error codes (after fastify's lib/errors.js).
 *
 * Two families:
 * - protocol codes: the word after `ERR ` on the wire. Clients match on them, so they are stable.
 * - daemon codes (`PINETD_E_*`): carried by PinetdError, logged as `err.code`, and mapped to
 *   an exit status at startup (78 = EX_CONFIG for anything the operator must fix in the config).
 */

/** Codes sent to clients as `ERR <code>[ detail]`. */
export const ProtocolError = {
  EMPTY_COMMAND: 'empty-command',
  UNKNOWN_COMMAND: 'unknown-command',
  USAGE: 'usage',
  LINE_TOO_LONG: 'line-too-long',
  LINE_TIMEOUT: 'line-timeout',
  INVALID_UTF8: 'invalid-utf8',
  BUSY: 'busy',
  FORBIDDEN: 'forbidden',
  AUTH_REQUIRED: 'auth-required',
  AUTH_FAILED: 'auth-failed',
  PROTECTED: 'protected',
  IDLE_TIMEOUT: 'idle-timeout',
  NO_READING: 'no-reading',
  STORE_FULL: 'store-full',
} as const;
export type ProtocolErrorCode = (typeof ProtocolError)[keyof typeof ProtocolError];

/**
 * Each wire code's line as a client sees it (`<…>` is filled in) and when it is sent. The
 * README's error table lists exactly these (test/errors.test.ts checks both ways).
 */
export const WIRE_ERRORS: Readonly<Record<ProtocolErrorCode, { readonly template: string; readonly closes: boolean }>> = {
  'empty-command': { template: 'ERR empty-command', closes: false },
  'unknown-command': { template: 'ERR unknown-command <VERB>', closes: false },
  usage: { template: 'ERR usage <VERB> <arguments>', closes: false },
  'no-reading': { template: 'ERR no-reading', closes: false },
  'store-full': { template: 'ERR store-full <n> keys, <b> bytes', closes: false },
  'invalid-utf8': { template: 'ERR invalid-utf8', closes: false },
  'line-too-long': { template: 'ERR line-too-long', closes: true },
  'line-timeout': { template: 'ERR line-timeout', closes: true },
  busy: { template: 'ERR busy', closes: true },
  forbidden: { template: 'ERR forbidden', closes: true },
  'auth-required': { template: 'ERR auth-required', closes: false },
  'auth-failed': { template: 'ERR auth-failed', closes: false },
  protected: { template: 'ERR protected <hint>', closes: false },
  'idle-timeout': { template: 'ERR idle-timeout', closes: true },
};

/** `ERR <code>` or `ERR <code> <detail>`, without the newline. */
export function errLine(code: ProtocolErrorCode, detail?: string): string {
  return detail ? `ERR ${code} ${detail}` : `ERR ${code}`;
}

/** sysexits.h: configuration error. systemd's RestartPreventExitStatus=78 keys on it. */
export const EX_CONFIG = 78;

interface CodeDef {
  readonly exitCode: number;
  readonly summary: string;
}

/** Daemon error codes. exitCode applies when the error stops startup. */
export const Codes = {
  PINETD_E_CONFIG: { exitCode: EX_CONFIG, summary: 'invalid configuration' },
  PINETD_E_TASK_LOAD: { exitCode: EX_CONFIG, summary: 'task module cannot be loaded' },
  PINETD_E_TASK_FAILED: { exitCode: 1, summary: 'task threw' },
  PINETD_E_TASK_TIMEOUT: { exitCode: 1, summary: 'task outlived --task-timeout' },
  PINETD_E_LISTEN: { exitCode: 1, summary: 'cannot listen' },
  PINETD_E_GPIO_CHIP: { exitCode: EX_CONFIG, summary: 'GPIO chip not found' },
  PINETD_E_GPIO_PIN: { exitCode: EX_CONFIG, summary: 'GPIO pin does not exist' },
  PINETD_E_GPIO_PERMISSION: { exitCode: EX_CONFIG, summary: 'no permission to use GPIO' },
  PINETD_E_GPIO_EXPORT: { exitCode: EX_CONFIG, summary: 'GPIO export failed' },
  PINETD_E_GPIO_IO: { exitCode: 1, summary: 'GPIO read/write failed' },
  PINETD_E_SENSOR: { exitCode: 1, summary: 'sensor reading rejected' },
  PINETD_E_MQTT: { exitCode: 1, summary: 'MQTT broker unreachable or refused the connection' },
  PINETD_E_STATE_DIR: { exitCode: EX_CONFIG, summary: 'state directory missing or not writable' },
  PINETD_E_STATE_CORRUPT: { exitCode: 1, summary: 'a saved state file cannot be loaded' },
  PINETD_E_STATE_WRITE: { exitCode: 1, summary: 'a state file cannot be written' },
} as const satisfies Record<string, CodeDef>;
export type Code = keyof typeof Codes;

export class PinetdError extends Error {
  readonly code: Code;
  readonly exitCode: number;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PinetdError';
    this.code = code;
    this.exitCode = Codes[code].exitCode;
  }
}

export function isPinetdError(err: unknown, code?: Code): err is PinetdError {
  return err instanceof PinetdError && (code === undefined || err.code === code);
}
