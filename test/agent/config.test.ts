import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { loadAgentConfig, parseAgentConfig } from '../../agent/config.ts';
import { ConfigError } from '../../shared/errors.ts';
import { tempDir } from './support.ts';

const minimal = {
  sources: [{ include: ['logs/*.log'], topic: 'app' }],
  collector: { urls: ['http://127.0.0.1:7070'] },
  state_dir: 'state',
};

test('agent config - defaults, host label and relative paths', (t) => {
  const o = parseAgentConfig(minimal, '/etc/tributary');
  t.deepEqual(o.sources[0]!.include, ['/etc/tributary/logs/*.log']);
  t.is(o.stateDir, '/etc/tributary/state');
  t.is(o.sources[0]!.labels.host, os.hostname());
  t.is(o.batch.maxWaitMs, 200);
  t.is(o.memoryLimitBytes, 32 * 1024 * 1024);
  t.is(o.startPosition, 'beginning');
  t.deepEqual(o.metricsListen, { host: '127.0.0.1', port: 9464 });
  t.true(Object.isFrozen(o));
});

test('agent config - every invalid key is named', (t) => {
  const error = t.throws(
    () =>
      parseAgentConfig(
        {
          ...minimal,
          sources: [{ include: ['x'], topic: '../etc', parser: 'xml', multiline: { start_pattern: '(' } }],
          batch: { max_bytes: '1 parsec' },
          memory_limit: '1KiB',
          metrics: { listen: 'nowhere' },
          unknown_key: true,
        },
        '/',
      ),
    { instanceOf: ConfigError },
  );
  for (const key of [
    'sources.0.topic',
    'sources.0.parser',
    'sources.0.multiline.start_pattern',
    'batch.max_bytes',
    'memory_limit',
    'metrics.listen',
    'unknown_key',
  ]) {
    t.true(error.message.includes(key), `${key} in: ${error.message}`);
  }
});

test('agent config - YAML file with environment interpolation in values only', async (t) => {
  const dir = await tempDir('tributary-config-');
  const file = path.join(dir, 'agent.yaml');
  const D = '$';
  await writeFile(
    file,
    [
      `# a comment mentioning ${D}{NOT_SET} is fine`,
      'sources:',
      '  - include: ["/var/log/*.log"]',
      `    topic: ${D}{TOPIC}`,
      `    labels: { env: "${D}{ENV_NAME:-dev}" }`,
      `collector: { urls: ["http://127.0.0.1:1"], token: "${D}{TOKEN}" }`,
      'state_dir: /tmp/x',
    ].join('\n'),
  );
  const o = await loadAgentConfig(file, { TOPIC: 'app', TOKEN: 's3cret' });
  t.is(o.sources[0]!.topic, 'app');
  t.is(o.sources[0]!.labels.env, 'dev');
  t.is(o.collector.token, 's3cret');
  const error = await t.throwsAsync(loadAgentConfig(file, { TOPIC: 'app' }), { instanceOf: ConfigError });
  t.regex(error.message, /TOKEN/);
});
