/**
 * `tributary collector --config collector.yaml [--print-config] [flags]`: runs the collector until SIGTERM or
 * SIGINT, then shuts down gracefully (collector.ts) and exits 0. A second signal exits at once with status 1.
 */
import { Command, Option } from 'commander';
import { createLogger } from '../shared/logger.ts';
import { loadCollectorConfig, printableConfig } from './config.ts';

interface Flags {
  config?: string;
  printConfig?: boolean;
  host?: string;
  port?: string;
  dataDir?: string;
  logLevel?: string;
  allowUnauthenticated?: boolean;
}

export function command(): Command {
  return new Command('collector')
    .description('run the collector server (HTTP API v1, storage, metrics)')
    .option('-c, --config <file>', 'YAML configuration file (docs/collector.md)')
    .option('--print-config', 'print the effective configuration (tokens masked) and exit')
    .option('--host <host>', 'listen address (listen.host)')
    .option('--port <port>', 'listen port (listen.port)')
    .option('--data-dir <dir>', 'data directory (data_dir)')
    .addOption(
      new Option('--log-level <level>', 'log level (log_level)').choices([
        'fatal',
        'error',
        'warn',
        'info',
        'debug',
        'trace',
        'silent',
      ]),
    )
    .option('--allow-unauthenticated', 'allow listening on a non-loopback address without tokens')
    .addHelpText(
      'after',
      '\nEvery key can also be set from the environment: listen.port -> TRIBUTARY_COLLECTOR_LISTEN_PORT.\n' +
        'Precedence: defaults < config file < environment < flags.',
    )
    .action(async (flags: Flags) => {
      const port = flags.port === undefined ? undefined : /^\d+$/.test(flags.port) ? Number(flags.port) : flags.port;
      const loaded = await loadCollectorConfig({
        file: flags.config,
        flags: {
          'listen.host': flags.host,
          'listen.port': port,
          data_dir: flags.dataDir,
          log_level: flags.logLevel,
          allow_unauthenticated: flags.allowUnauthenticated,
        },
      });
      if (flags.printConfig) {
        process.stdout.write(printableConfig(loaded));
        return;
      }
      const logger = createLogger({ level: loaded.options.logLevel, name: 'collector' });
      const { startCollector } = await import('./collector.ts');
      const collector = await startCollector(loaded.options, { logger });
      await new Promise<void>((resolve) => {
        let signals = 0;
        const onSignal = (signal: NodeJS.Signals) => {
          if (++signals > 1) {
            logger.warn({ signal }, 'second signal: exiting without finishing the shutdown');
            logger.flush();
            process.exit(1);
          }
          logger.info({ signal }, 'signal received');
          collector.close().then(
            () => {
              // A stray handle must not keep a stopped collector alive.
              setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
              resolve();
            },
            (error: unknown) => {
              logger.error({ err: error }, 'shutdown failed');
              process.exitCode = 1;
              resolve();
            },
          );
        };
        process.on('SIGTERM', onSignal);
        process.on('SIGINT', onSignal);
      });
      logger.flush();
    });
}
