/**
 * import() of a module outside the bundle (MQTT.js, a --task file).
 *
 * The installed daemon runs as one bundle compiled through a V8 code cache (src/cli/pinetd.cts),
 * i.e. as a vm.Script, and on Node 20 a vm.Script has no import() of its own: it throws
 * ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING unless `vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER`
 * is used, which prints an ExperimentalWarning (https://github.com/nodejs/node/pull/51244).
 * The launcher lends its own import() under this symbol instead; elsewhere (tests, the
 * unbundled dist/) the module's own import() is used.
 */
const LENT = Symbol.for('pinetd.import');

type Importer = (specifier: string) => Promise<unknown>;

export function importModule(specifier: string): Promise<unknown> {
  const lent = (globalThis as Record<symbol, unknown>)[LENT];
  return typeof lent === 'function' ? (lent as Importer)(specifier) : import(specifier);
}
