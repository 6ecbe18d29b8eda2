/**
 * `tributary agent --config agent.yaml`: runs the host agent until SIGINT/SIGTERM, then shuts down gracefully
 * (see agent.ts). A second signal exits at once; checkpoints then hold what was acknowledged before.
 */
import { Command } from 'commander';
import { Agent } from './agent.ts';
import { type LogLevel, createLogger } from '../shared/logger.ts';
import { loadAgentConfig } from './config.ts';

export function command(): Command {
  return new Command('agent')
    .description('tail the log files of this host and ship their lines to the collector')
    .requiredOption('-c, --config <file>', 'agent config file (YAML); see docs/agent.md')
    .option('--log-level <level>', 'trace, debug, info, warn, error', 'info')
    .addHelpText(
      'after',
      '\nEnvironment: TRIBUTARY_AGENT_COLLECTOR_TOKEN, TRIBUTARY_AGENT_STATE_DIR, … override config keys (docs/agent.md).',
    )
    .action(async (opts: { config: string; logLevel: string }) => {
      const options = await loadAgentConfig(opts.config);
      const log = createLogger({ name: 'agent', level: opts.logLevel as LogLevel });
      const agent = await Agent.start(options, { log });
      await new Promise<void>((resolve) => {
        let stopping = false;
        const onSignal = (signal: NodeJS.Signals) => {
          if (stopping) {
            log.warn({ signal }, 'second signal: exiting now');
            process.exit(130);
          }
          stopping = true;
          log.info({ signal }, 'stopping');
          agent.stop().then(
            () => {
              // A stray handle must not keep a stopped agent alive.
              setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
              resolve();
            },
            (error: Error) => {
              log.error({ err: error }, 'shutdown failed');
              process.exitCode = 1;
              resolve();
            },
          );
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
    });
}
