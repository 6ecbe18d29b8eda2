/**
 * Admin clients against the Kafka listener: Confluent's Python AdminClient creates a topic (with a retention
 * setting), sees it in metadata and its settings in DescribeConfigs, lists and describes consumer groups, deletes
 * the topic; an unknown setting is refused with a clear error and creates nothing. Checked over the HTTP API.
 */
import test from 'ava';
import { CollectorClient } from '../../shared/client/collector-client.ts';
import { withPythonKafka, type KafkaCollector, PYTHON, run, startKafkaCollector } from './support.ts';

let kafka: KafkaCollector;
let client: CollectorClient;

test.before(async () => {
  kafka = await startKafkaCollector();
  client = new CollectorClient({ urls: kafka.collector.url });
});

test.after.always(async () => {
  await kafka?.collector.dispose();
});

const SCRIPT = `
import json, sys
from confluent_kafka.admin import AdminClient, NewTopic, ConfigResource
a = AdminClient({'bootstrap.servers': sys.argv[1]})
step = sys.argv[2]
out = {}
if step == 'create':
    fs = a.create_topics([NewTopic('admin-topic', num_partitions=3, replication_factor=1, config={'retention.ms': '3600000'})])
    fs['admin-topic'].result(30)
    md = a.list_topics(timeout=30)
    out['partitions'] = len(md.topics['admin-topic'].partitions)
    res = a.describe_configs([ConfigResource('topic', 'admin-topic')])
    for r, f in res.items():
        out['configs'] = {k: v.value for k, v in f.result(30).items()}
elif step == 'bad':
    fs = a.create_topics([NewTopic('admin-bad', num_partitions=1, replication_factor=1, config={'cleanup.policy': 'compact'})])
    try:
        fs['admin-bad'].result(30)
        out['error'] = None
    except Exception as e:
        out['error'] = str(e)
elif step == 'groups':
    out['groups'] = {g.id: g.state for g in a.list_groups(timeout=30)}
elif step == 'delete':
    a.delete_topics(['admin-topic'])['admin-topic'].result(30)
    out['deleted'] = True
print(json.dumps(out))
`;

async function admin(step: string): Promise<Record<string, unknown>> {
  const result = await run(PYTHON, ['-c', SCRIPT, kafka.bootstrap, step], '', 90_000);
  if (result.code !== 0) throw new Error(`AdminClient ${step} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

withPythonKafka.serial(
  'admin - Python AdminClient creates a topic with settings, describes it, and deletes it',
  async (t) => {
    const created = await admin('create');
    t.is(created.partitions, 3);
    t.is((created.configs as Record<string, string>)['retention.ms'], '3600000');
    const info = await client.describeTopic('admin-topic');
    t.is(info.partitions.length, 3);
    t.is(await admin('delete').then((r) => r.deleted), true);
    const topics = await client.listTopics();
    t.false(topics.some((x) => x.name === 'admin-topic'));
  },
);

withPythonKafka.serial(
  'admin - a setting Tributary does not have is refused with INVALID_CONFIG and creates nothing',
  async (t) => {
    const result = await admin('bad');
    t.regex(String(result.error), /cleanup\.policy/);
    const topics = await client.listTopics();
    t.false(topics.some((x) => x.name === 'admin-bad'));
  },
);

withPythonKafka.serial(
  'admin - consumer groups with committed offsets are listed and described (ListGroups, DescribeGroups)',
  async (t) => {
    await client.produce('admin-groups', [{ key: 'k', value: 'v' }]);
    await client.commitOffsets('admin-listed', { offsets: [{ topic: 'admin-groups', partition: 0, offset: 1 }] });
    const result = await admin('groups');
    t.is((result.groups as Record<string, string>)['admin-listed'], 'Empty');
  },
);
