/**
 * Kafka consumer groups against a real collector: kcat's balanced consumer (-G), Confluent's Python Consumer in a
 * group, and three kafkajs members as separate processes with one SIGKILLed (its partitions move to the others,
 * every record is delivered at least once, the commits show through our HTTP group offsets, which is what
 * `tributary groups describe` prints). A group used through our HTTP protocol is refused to Kafka clients.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { CollectorClient } from '../../shared/client/collector-client.ts';
import { call, waitFor } from '../collector/support.ts';
import { CLI, REPO_ROOT } from '../helpers/collector-process.ts';
import { withKcat, withPythonKafka, type KafkaCollector, PYTHON, run, startKafkaCollector } from './support.ts';

const MEMBER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'kafkajs-member.ts');

let kafka: KafkaCollector;
let client: CollectorClient;

test.before(async () => {
  kafka = await startKafkaCollector({ config: { topics: { default_partitions: 3 } } });
  client = new CollectorClient({ urls: kafka.collector.url });
});

test.after.always(async () => {
  await kafka?.collector.dispose();
});

async function produceLines(topic: string, count: number, prefix: string): Promise<string[]> {
  const values = Array.from({ length: count }, (_v, i) => `${prefix}-${i}`);
  // Keys spread the records over every partition.
  await client.produce(
    topic,
    values.map((value, i) => ({ key: `host-${i % 7}:/app.log`, value })),
  );
  return values;
}

async function committed(group: string): Promise<Map<number, number>> {
  const res = await call(`${kafka.collector.url}/v1/groups/${group}/offsets`);
  const body = res.json as { offsets: { topic: string; partition: number; offset: number }[] };
  return new Map((body.offsets ?? []).map((o) => [o.partition, o.offset]));
}

withKcat.test(
  'groups - kcat balanced consumer reads every record and commits; the commits show in groups describe',
  async (t) => {
    const values = await produceLines('grp-kcat', 60, 'kcat');
    const result = await run('kcat', [
      ...['-b', kafka.bootstrap, '-G', 'kcat-group', 'grp-kcat', '-X', 'auto.offset.reset=earliest'],
      ...['-e', '-q', '-f', '%s\n'],
    ]);
    t.is(result.code, 0, result.stderr);
    t.deepEqual(result.stdout.trim().split('\n').sort(), [...values].sort());
    const offsets = await waitFor('commits of the kcat group', async () => {
      const c = await committed('kcat-group');
      return [...c.values()].reduce((n, o) => n + o, 0) === 60 ? c : undefined;
    });
    t.is(offsets.size, 3);
    const describe = await run(process.execPath, [
      CLI,
      'groups',
      'describe',
      'kcat-group',
      '--url',
      kafka.collector.url,
    ]);
    t.is(describe.code, 0, describe.stderr);
    t.regex(describe.stdout, /grp-kcat\s+0\s+\d+/);
  },
);

withPythonKafka.test(
  'groups - Python Consumer in a group: consumes from the committed offsets on, and commits',
  async (t) => {
    const first = await produceLines('grp-python', 30, 'py-a');
    const script = `
import json, sys, time
from confluent_kafka import Consumer
c = Consumer({'bootstrap.servers': sys.argv[1], 'group.id': 'python-group', 'auto.offset.reset': 'earliest',
              'enable.auto.commit': False, 'session.timeout.ms': 6000})
c.subscribe(['grp-python'])
want = int(sys.argv[2])
got = []
deadline = time.time() + 60
while len(got) < want and time.time() < deadline:
    m = c.poll(0.5)
    if m is None or m.error():
        continue
    got.append(m.value().decode())
    c.commit(message=m, asynchronous=False)
c.close()
print(json.dumps(got))
`;
    const one = await run(PYTHON, ['-c', script, kafka.bootstrap, '30'], '', 120_000);
    t.is(one.code, 0, one.stderr);
    t.deepEqual((JSON.parse(one.stdout) as string[]).sort(), [...first].sort());
    // A second run of the group starts at the committed offsets: it sees only the new records.
    const second = await produceLines('grp-python', 10, 'py-b');
    const two = await run(PYTHON, ['-c', script, kafka.bootstrap, '10'], '', 120_000);
    t.is(two.code, 0, two.stderr);
    t.deepEqual((JSON.parse(two.stdout) as string[]).sort(), [...second].sort());
  },
);

interface Member {
  readonly child: ChildProcess;
  readonly values: Set<string>;
  readonly assignments: number[][];
  readonly exited: Promise<void>;
}

function startMember(group: string, topic: string, name: string): Member {
  const child = spawn(process.execPath, ['--import', 'tsx', MEMBER, kafka.bootstrap, group, topic, name], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const member: Member = {
    child,
    values: new Set(),
    assignments: [],
    exited: new Promise((resolve) => child.once('exit', () => resolve())),
  };
  let rest = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      const msg = JSON.parse(line) as { value?: string; assigned?: number[] };
      if (msg.assigned) member.assignments.push(msg.assigned);
      else if (msg.value !== undefined) member.values.add(msg.value);
    }
  });
  return member;
}

test('groups - three kafkajs members share the partitions; one SIGKILLed, its partitions move and every record is delivered', async (t) => {
  const topic = 'grp-kafkajs';
  await client.createTopic({ name: topic, partitions: 3 });
  const members = ['a', 'b', 'c'].map((n) => startMember('kafkajs-group', topic, `member-${n}`));
  try {
    // All three end up with one partition each.
    await waitFor(
      'three members with a partition each',
      () => members.every((m) => m.assignments.at(-1)?.length === 1),
      90_000,
    );
    const before = await produceLines(topic, 90, 'before');
    await waitFor('the first records', () => before.every((v) => members.some((m) => m.values.has(v))), 60_000);
    const victim = members[0]!;
    victim.child.kill('SIGKILL');
    await victim.exited;
    const after = await produceLines(topic, 90, 'after');
    const survivors = members.slice(1);
    await waitFor(
      'the survivors to take over and read every later record',
      () => after.every((v) => survivors.some((m) => m.values.has(v))),
      90_000,
    );
    const partitions = new Set(survivors.flatMap((m) => m.assignments.at(-1) ?? []));
    t.deepEqual([...partitions].sort(), [0, 1, 2]);
    const offsets = await waitFor('commits of every partition at its end', async () => {
      const c = await committed('kafkajs-group');
      return [...c.values()].reduce((n, o) => n + o, 0) === 180 ? c : undefined;
    });
    t.is(offsets.size, 3);
  } finally {
    for (const m of members) m.child.kill('SIGTERM');
    await Promise.all(members.map((m) => Promise.race([m.exited, new Promise((r) => setTimeout(r, 10_000))])));
    for (const m of members) m.child.kill('SIGKILL');
  }
});

withKcat.test(
  'groups - a group in use through the HTTP protocol is refused to a Kafka client, with INCONSISTENT_GROUP_PROTOCOL',
  async (t) => {
    await produceLines('grp-mixed', 5, 'mixed');
    const join = await call(`${kafka.collector.url}/v1/groups/mixed-group/members`, {
      method: 'POST',
      body: JSON.stringify({ topics: ['grp-mixed'], session_timeout_ms: 60_000 }),
      headers: { 'content-type': 'application/json' },
    });
    t.is(join.status, 200, join.text);
    const result = await run(
      'kcat',
      [...['-b', kafka.bootstrap, '-G', 'mixed-group', 'grp-mixed', '-X', 'auto.offset.reset=earliest', '-q']],
      '',
      8000,
    );
    t.regex(result.stderr, /[Ii]nconsistent group protocol|INCONSISTENT_GROUP_PROTOCOL/);
  },
);
