/** The README's error tables and the registry in src/errors.ts list the same codes. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Codes, errLine, ProtocolError, WIRE_ERRORS } from '../src/errors.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('error registry', () => {
  it('the README error table lists exactly the wire codes, each with its registry line', () => {
    const rows = [...README.matchAll(/^\| `(ERR [^`]+)` \|/gm)].map((m) => m[1]!);
    const codes = rows.map((r) => r.split(' ')[1]);
    expect([...codes].sort()).toEqual(Object.keys(WIRE_ERRORS).sort());
    for (const row of rows) expect(row).toBe(WIRE_ERRORS[row.split(' ')[1] as keyof typeof WIRE_ERRORS].template);
    expect(Object.values(ProtocolError).sort()).toEqual(Object.keys(WIRE_ERRORS).sort());
  });

  it('the README code table lists exactly the PINETD_E_* codes with their exit status', () => {
    const rows = [...README.matchAll(/^\| `(PINETD_E_[A-Z_]+)` \| (\d+|—) \|/gm)];
    expect(rows.map((m) => m[1]).sort()).toEqual(Object.keys(Codes).sort());
    for (const [, code, exit] of rows) {
      const def = Codes[code as keyof typeof Codes];
      // '—' marks a runtime error that never stops startup (its exitCode is the generic 1).
      if (exit === '—') expect(def.exitCode).toBe(1);
      else expect(String(def.exitCode)).toBe(exit);
    }
  });

  it('formats an error line with and without detail', () => {
    expect(errLine(ProtocolError.BUSY)).toBe('ERR busy');
    expect(errLine(ProtocolError.USAGE, 'GET <key>')).toBe('ERR usage GET <key>');
  });
});
