/**
 * `tributary up` (what `npm start` runs): a collector and an agent in one process, the embedded default for a first
 * look. The collector stores its data in `<dir>/data`; the agent tails `<dir>/demo-logs/*.log` into the topic
 * `demo`, where a demo file gets a line every couple of seconds; then it prints what to try next.
 *
 * This is the one composition root that imports both sides. Everything it starts is stopped on SIGINT/SIGTERM:
 * the demo writer first, then the agent (which flushes and checkpoints), then the collector.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { Agent } from '../../agent/agent.ts';
import { parseAgentConfig } from '../../agent/config.ts';
import { startCollector } from '../../collector/collector.ts';
import { parseCollectorConfig } from '../../collector/config.ts';
import { ConfigError } from '../errors.ts';
import { createLogger, type LogLevel } from '../logger.ts';

interface UpFlags {
  dir: string;
  port: string;
  metricsPort: string;
  kafkaPort: string;
  demo: boolean;
  logLevel: string;
}

const DEMO_TOPIC = 'demo';
const DEMO_EVERY_MS = 2000;

function portOf(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535)
    throw new ConfigError(`${flag}: expected a port from 0 to 65535, got ${value}`);
  return n;
}

export function command(): Command {
  return new Command('up')
    .description('run a collector and an agent in one process, tailing a demo logs folder')
    .option('--dir <dir>', 'where data, agent state and demo logs live', '.tributary')
    .option('--port <port>', 'collector HTTP port (127.0.0.1)', '7070')
    .option('--metrics-port <port>', 'agent metrics port (127.0.0.1)', '9464')
    .option('--kafka-port <port>', 'Kafka protocol port (127.0.0.1)', '9092')
    .option('--no-demo', 'do not append a demo line every 2 s')
    .option('--log-level <level>', 'log level of both sides', 'warn')
    .action(async (flags: UpFlags) => {
      const base = path.resolve(flags.dir);
      const demoDir = path.join(base, 'demo-logs');
      const demoFile = path.join(demoDir, 'demo.log');
      await mkdir(demoDir, { recursive: true });
      const level = flags.logLevel as LogLevel;

      const { options: collectorOptions } = parseCollectorConfig(
        {
          listen: { host: '127.0.0.1', port: portOf('--port', flags.port) },
          data_dir: path.join(base, 'data'),
          kafka: { listen: `127.0.0.1:${portOf('--kafka-port', flags.kafkaPort)}` },
        },
        base,
        'tributary up',
      );
      const collector = await startCollector(collectorOptions, { logger: createLogger({ name: 'collector', level }) });

      const agentOptions = parseAgentConfig(
        {
          sources: [{ name: 'demo', include: [path.join(demoDir, '*.log')], topic: DEMO_TOPIC }],
          collector: { urls: [collector.address] },
          state_dir: path.join(base, 'agent'),
          metrics: { listen: `127.0.0.1:${portOf('--metrics-port', flags.metricsPort)}` },
          batch: { max_wait: '100ms' },
        },
        base,
        'tributary up',
      );
      let agent: Agent;
      try {
        agent = await Agent.start(agentOptions, { log: createLogger({ name: 'agent', level }) });
      } catch (error) {
        await collector.close();
        throw error;
      }

      let n = 0;
      const writeDemoLine = () =>
        appendFile(demoFile, `${new Date().toISOString()} level=info msg="demo line ${++n} from tributary up"\n`).catch(
          () => {},
        );
      let demo: NodeJS.Timeout | undefined;
      if (flags.demo) {
        await writeDemoLine();
        demo = setInterval(writeDemoLine, DEMO_EVERY_MS);
      }

      const rel = path.relative(process.cwd(), demoFile) || demoFile;
      const url = collector.address;
      process.stdout.write(
        [
          '',
          'Tributary is up: a collector and an agent in this process.',
          '',
          `  console    ${url}/ui/   (search, live tail, topics, consumer groups in the browser)`,
          `  collector  ${url}   data in ${path.relative(process.cwd(), path.join(base, 'data')) || base}`,
          `  agent      tails ${path.relative(process.cwd(), demoDir)}/*.log into topic "${DEMO_TOPIC}"` +
            (flags.demo ? ` (a demo line every ${DEMO_EVERY_MS / 1000} s)` : ''),
          '',
          'Try:',
          `  echo "hello from $USER" >> ${rel}`,
          `  npx tributary query ${DEMO_TOPIC} --grep hello --url ${url}`,
          `  npx tributary tail ${DEMO_TOPIC} --url ${url}`,
          `  npx tributary consume ${DEMO_TOPIC} --group demo --from earliest --url ${url}`,
          `  curl -s '${url}/v1/topics/${DEMO_TOPIC}/partitions/0/records?offset=0&max_bytes=4096'`,
          `  kcat -b 127.0.0.1:${collector.kafkaPort} -C -t ${DEMO_TOPIC} -o beginning -e   # any Kafka client works`,
          '',
          'Metrics (Prometheus):',
          `  collector  ${url}/metrics`,
          `  agent      ${agent.metricsUrl ?? '(off)'}`,
          '',
          'Stop with Ctrl-C.',
          '',
        ].join('\n'),
      );

      await new Promise<void>((resolve) => {
        let signals = 0;
        const onSignal = () => {
          if (++signals > 1) process.exit(1);
          if (demo) clearInterval(demo);
          process.stdout.write('stopping: flushing the agent, then closing the collector…\n');
          agent
            .stop()
            .then(() => collector.close())
            .then(
              () => {
                setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
                resolve();
              },
              (error: Error) => {
                process.stderr.write(`tributary up: shutdown failed: ${error.message}\n`);
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
