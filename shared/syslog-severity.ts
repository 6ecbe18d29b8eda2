/**
 * Syslog severities (RFC 5424 table 2, syslog(3)): the `level` label of records from syslog messages (collector)
 * and from the journal's PRIORITY field (agent), so one matcher (`level=err`) finds both.
 */
export const SEVERITY_NAMES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;
