/**
 * Structured JSON logs (pino) for the collector and the agent: one line per event on stdout (or a given stream),
 * level configurable, and secrets redacted wherever they might appear, so a token never reaches a log file.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export type { Logger };

/**
 * Paths pino replaces with "[redacted]": request headers as fastify logs them, and any token/password field one
 * or two levels deep (configuration objects, client options).
 */
export const REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'token',
  'tokens',
  'password',
  '*.token',
  '*.tokens',
  '*.password',
  '*.authorization',
  '*.*.token',
];

export interface LoggerOptions {
  readonly level: LogLevel;
  /** The component name, logged as `name` on every line ("collector", "agent"). */
  readonly name: string;
  /** Where lines go; stdout by default. */
  readonly destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.name,
      level: options.level,
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      // ISO time reads better in a terminal and sorts like epoch ms.
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

/** A logger that drops everything (tests, embedded use where the host logs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
