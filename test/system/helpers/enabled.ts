/** System tests run only when PINETD_SYSTEM_TESTS is set to something other than "" or "0" (.ci/run sets 1). */
export const SYSTEM_TESTS_ENABLED = (process.env.PINETD_SYSTEM_TESTS ?? '') !== '' && process.env.PINETD_SYSTEM_TESTS !== '0';
