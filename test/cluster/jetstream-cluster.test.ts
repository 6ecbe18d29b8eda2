/**
 * The cluster fault test on loopback, all real processes: three nats-server processes forming a JetStream cluster,
 * two collector processes (`storage.backend: jetstream`, `replicas: 3`, NATS ingest in the shared queue group), and
 * two agent processes tailing log files that this test appends to at a steady rate, shipping over NATS
 * (`collector.urls: nats://…`) so that whichever collector is alive answers. During the load the NATS node leading
 * the busiest partition's stream and one collector are SIGKILLed. Producing must continue, every line written must end up
 * stored (read back through the surviving collector's fetch API: an agent only moves on once a batch is
 * acknowledged, so a missing line is a lost acknowledged record or a stuck agent), and duplicates (a request
 * retried after its first attempt was stored) are counted and reported. The servers run the node configs of
 * deploy/nats/ (test/helpers/nats-server.ts), and the steps of docs/scaling.md are checked along the way: describe
 * (API and CLI) names each stream's leader as JetStream has it, and the killed server, restarted, catches up by itself.
 */
import { spawnSync } from 'node:child_process';
import { appendFile, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { connect } from 'nats';
import { streamName } from '../../collector/storage/jetstream/index.ts';
import { partitionForKey } from '../../shared/partitioner.ts';
import {
  type AgentProcess,
  fetchAll,
  startAgentProcess,
  sleep,
  tally,
  tempDir,
  waitFor,
  writeAgentConfig,
} from '../agent/support.ts';
import { CLI, CollectorProcess } from '../helpers/collector-process.ts';
import { natsServerAvailable, startNatsCluster } from '../helpers/nats-server.ts';

const maybe = natsServerAvailable() ? test : test.skip;
const TOPIC = 'load';
const PARTITIONS = 2;
const AGENTS = 2;
const FILES_PER_AGENT = PARTITIONS;
/** Lines per file per tick, and the tick: 4 files x 40 lines / 50 ms = 3,200 lines/s in all. */
const LINES_PER_TICK = 40;
const TICK_MS = 50;
const BEFORE_FAULT_MS = 6_000;
// Longer than the stall a stream's leader election causes: 5-9.6 s measured in CI runs (the log line "longest
// stretch without an acknowledgement"), once over 10 s on a loaded machine.
const AFTER_FAULT_MS = 15_000;

interface DescribedTopic {
  backend: string;
  config: Record<string, unknown>;
  partitions: {
    partition: number;
    end_offset: number;
    stream?: {
      name: string;
      leader: string | null;
      replicas: number;
      followers: { server: string; current: boolean; lag: number }[];
    };
  }[];
}

async function describe(collector: CollectorProcess): Promise<DescribedTopic> {
  const response = await fetch(`${collector.url}/v1/topics/${TOPIC}`, { signal: AbortSignal.timeout(20_000) });
  return (await response.json()) as DescribedTopic;
}

/** Records this collector appended (its own counter): shows that both collectors were serving the load. */
async function recordsAppended(collector: CollectorProcess): Promise<number> {
  const text = await (await fetch(`${collector.url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  let sum = 0;
  for (const m of text.matchAll(/^tributary_collector_records_appended_total\{[^}]*\}\s+(\S+)$/gm)) sum += Number(m[1]);
  return sum;
}

maybe('cluster - SIGKILL a NATS node and a collector under load: producing continues, no line lost', async (t) => {
  t.timeout(240_000);
  const started = Date.now();
  const cluster = await startNatsCluster(3);
  t.teardown(() => cluster.stop());

  const collectorConfig = {
    storage: { backend: 'jetstream', replicas: 3 },
    nats: { servers: cluster.servers, ingest: true },
    topics: { default_partitions: PARTITIONS },
  };
  const [a, b] = await Promise.all([
    CollectorProcess.start({ config: collectorConfig }),
    CollectorProcess.start({ config: collectorConfig }),
  ]);
  t.teardown(() => a.dispose());
  t.teardown(() => b.dispose());
  // Made up front: two collectors auto-creating one topic at the same moment is not what this test is about.
  const created = await fetch(`${a.url}/v1/topics`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: TOPIC, partitions: PARTITIONS }),
  });
  t.is(created.status, 201, await created.clone().text());

  const root = await tempDir('tributary-cluster-test-');
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const files: string[] = [];
  const agents: AgentProcess[] = [];
  await Promise.all(
    Array.from({ length: AGENTS }, async (_, i) => {
      const dir = path.join(root, `agent-${i}`);
      const logs = path.join(dir, 'logs');
      await mkdir(logs, { recursive: true });
      // One file per partition (FILES_PER_AGENT = PARTITIONS): the source key is `<host>:<path>` and crc32's low
      // bits are linear in the input, so names differing in one digit may all land in one partition.
      for (let f = 0, n = 0; f < FILES_PER_AGENT; n++) {
        const file = path.join(logs, `app-${n}.log`);
        if (partitionForKey(`host-${i}:${file}`, PARTITIONS) !== f) continue;
        await appendFile(file, '');
        files.push(file);
        f++;
      }
      const config = await writeAgentConfig({
        dir,
        collectorUrl: cluster.servers,
        sources: [{ name: 'app', include: [`${logs}/*.log`], topic: TOPIC }],
        extra: {
          collector: { urls: cluster.servers, retry: { initial: '50ms', max: '1s' }, timeout: '5s' },
          host: `host-${i}`,
        },
      });
      const agent = await startAgentProcess(config);
      t.teardown(() => agent.kill());
      agents.push(agent);
    }),
  );
  t.log(`cluster, 2 collectors and ${AGENTS} agents up after ${Date.now() - started} ms`);

  // Writers: each file gets LINES_PER_TICK lines every TICK_MS until told to stop.
  const written: string[] = [];
  let writing = true;
  let sampling = true;
  // An assertion that fails throws: the loops must stop before the teardowns remove their files and servers.
  t.teardown(() => {
    writing = false;
    sampling = false;
  });
  const writers = files.map(async (file, f) => {
    for (let seq = 0; writing; ) {
      const lines: string[] = [];
      for (let i = 0; i < LINES_PER_TICK; i++) lines.push(`file${f}-line${seq++}-${'x'.repeat(60)}`);
      try {
        await appendFile(file, `${lines.join('\n')}\n`);
      } catch (error) {
        if (writing) throw error;
        return; // the test ended and its directory is gone
      }
      written.push(...lines);
      await sleep(TICK_MS);
    }
  });

  // Lines acknowledged over time, per agent (from the agents' own /metrics, which the faults do not touch).
  const acked = () => Promise.all(agents.map((x) => x.metric('tributary_agent_lines_acknowledged_total')));
  const samples: { at: number; acked: number[] }[] = [];
  const sampler = (async () => {
    while (sampling) {
      const at = Date.now();
      samples.push({ at, acked: await acked().catch(() => agents.map(() => -1)) });
      await sleep(100);
    }
  })();

  await sleep(BEFORE_FAULT_MS);
  const ackedBeforeFault = await acked();
  t.true(
    ackedBeforeFault.every((n) => n > 0),
    `every agent had lines acknowledged before the faults (${ackedBeforeFault})`,
  );

  // The NATS node leading the stream of the busiest partition (the sources hash to partitions; one may get none),
  // and collector b: both SIGKILLed at once.
  const described = await describe(a);
  const busiest = described.partitions.reduce((x, y) => (y.end_offset > x.end_offset ? y : x)).partition;
  const nc = await connect({ servers: cluster.servers });
  const jsm = await nc.jetstreamManager();
  const leader = (await jsm.streams.info(streamName(TOPIC, busiest))).cluster?.leader;
  await nc.close();
  // What describe says is what JetStream has: the stream, its leader and its two other copies; no segments.
  t.is(described.backend, 'jetstream');
  t.false('flush' in described.config || 'segment_bytes' in described.config, 'no file-store keys on JetStream');
  const placement = described.partitions.find((p) => p.partition === busiest);
  t.like(placement?.stream, { name: streamName(TOPIC, busiest), replicas: 3, leader, storage: 'file' });
  t.is(placement?.stream?.followers.length, 2);
  t.false(placement !== undefined && 'segment_count' in placement);
  const victim = cluster.nodes.find((n) => n.name === leader) ?? cluster.nodes[2]!;
  const servedBy = [await recordsAppended(a), await recordsAppended(b)];
  t.true(
    servedBy.every((n) => n > 0),
    `both collectors were appending the agents' lines before the faults (${servedBy})`,
  );
  const faultAt = Date.now();
  await Promise.all([victim.kill(), b.kill()]);
  t.log(
    `SIGKILLed nats node ${victim.name} (leader of ${streamName(TOPIC, busiest)}) and collector b ` +
      `(records appended until then by a: ${servedBy[0]}, by b: ${servedBy[1]}; ` +
      `per partition: ${described.partitions.map((p) => p.end_offset).join(' / ')})`,
  );

  await sleep(AFTER_FAULT_MS);
  writing = false;
  await Promise.all(writers);
  const writtenAt = Date.now();
  const ackedAtStop = await acked();
  t.true(
    ackedAtStop.every((n, i) => n > (ackedBeforeFault[i] ?? 0)),
    `every agent kept producing after the faults (acknowledged lines before ${ackedBeforeFault}, at the end ${ackedAtStop})`,
  );

  // Every line written must be acknowledged (agents retry until it is), then be readable from the log.
  await waitFor(
    `all ${written.length} lines acknowledged`,
    async () => (await acked()).reduce((sum, n) => sum + n, 0) >= written.length,
    60_000,
    250,
  ).catch(() => undefined);
  const ackedAt = Date.now();
  sampling = false;
  await sampler;
  const records = await fetchAll(a.url, TOPIC);
  const result = tally(written, records);

  // Per agent, the longest time between the faults and the end of writing without a newly acknowledged line.
  const stalls = agents.map((_, i) => {
    let longest = 0;
    let lastGrowth = faultAt;
    let previous = ackedBeforeFault[i] ?? 0;
    for (const sample of samples) {
      const n = sample.acked[i] ?? -1;
      if (sample.at < faultAt || sample.at > writtenAt || n <= previous) continue;
      longest = Math.max(longest, sample.at - lastGrowth);
      lastGrowth = sample.at;
      previous = n;
    }
    return Math.max(longest, writtenAt - lastGrowth);
  });
  const retries = await Promise.all(agents.map((x) => x.metric('tributary_agent_retries_total').catch(() => -1)));
  t.log(
    `written ${result.expected} lines, stored ${result.received} records: ${result.missing.length} missing, ` +
      `${result.duplicates} duplicates; agent retries ${retries.join(', ')}; ` +
      `longest stretch without an acknowledgement after the faults, per agent: ${stalls.join(', ')} ms; ` +
      `all acknowledged ${ackedAt - writtenAt} ms after writing stopped; test ${Date.now() - started} ms`,
  );
  t.deepEqual(result.missing.slice(0, 5), [], `${result.missing.length} lines written were never stored`);
  t.deepEqual(result.unexpected.slice(0, 5), []);
  // Offsets stay contiguous per partition through the faults.
  for (let p = 0; p < PARTITIONS; p++) {
    const offsets = records.filter((r) => r.partition === p).map((r) => r.offset);
    t.deepEqual(
      offsets,
      Array.from({ length: offsets.length }, (_, i) => i),
      `partition ${p}: offsets 0..n-1`,
    );
  }

  const stallLines = a.logs.split('\n').filter((l) => l.includes('append stalled'));
  t.log(`collector a logged ${stallLines.length} stalled appends, e.g. ${stallLines[0]?.slice(0, 300) ?? '(none)'}`);

  // The lost server comes back on its own store and catches up by itself: describe shows every copy current again
  // (docs/scaling.md, "Lose a server, bring it back").
  const back = Date.now();
  await victim.restart();
  let caughtUp: DescribedTopic | undefined;
  await waitFor(
    `${victim.name} to be a current copy of every partition's stream again`,
    async () => {
      const d = await describe(a).catch(() => undefined);
      const ok = d?.partitions.every((p) => {
        const s = p.stream;
        const servers = [s?.leader, ...(s?.followers ?? []).map((f) => f.server)];
        return s?.leader !== null && servers.includes(victim.name) && (s?.followers ?? []).every((f) => f.current);
      });
      if (ok) caughtUp = d;
      return ok === true;
    },
    90_000,
    500,
  );
  t.truthy(caughtUp, 'the restarted server caught up');
  t.log(`${victim.name} restarted and current on every stream after ${Date.now() - back} ms`);

  // The CLI shows the same: stream, leader and followers columns, no segments.
  const cli = spawnSync(process.execPath, [CLI, 'topics', 'describe', TOPIC, '--url', a.url], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.is(cli.status, 0, cli.stderr);
  t.regex(cli.stdout, /JetStream: one stream per partition, 3 replica\(s\), file storage/);
  t.regex(cli.stdout, /PARTITION\s+START\s+END\s+RECORDS\s+SIZE\s+STREAM\s+LEADER\s+FOLLOWERS/);
  t.regex(cli.stdout, new RegExp(`${streamName(TOPIC, busiest)}\\s+nats-\\d`));
  t.notRegex(cli.stdout, /SEGMENTS|segments|flush/);
});
