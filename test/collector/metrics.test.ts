/**
 * The collector's /metrics against what was produced: parsed as Prometheus text and compared with the produced
 * counts, then scraped by a real Prometheus server (the Debian binary on a free loopback port) and queried with
 * PromQL.
 */
import test from 'ava';
import { CollectorClient } from '../../shared/client/collector-client.ts';
import { partitionForKey } from '../../shared/partitioner.ts';
import { CollectorProcess } from '../helpers/collector-process.ts';
import { PrometheusServer, prometheusBinary } from '../helpers/prometheus.ts';
import { batchOf, call, parsePrometheusText } from './support.ts';

let collector: CollectorProcess;
let client: CollectorClient;

test.before(async () => {
  collector = await CollectorProcess.start({ config: { topics: { default_partitions: 2 } } });
  client = new CollectorClient({ urls: collector.url });
});

test.after.always(async () => {
  await collector?.dispose();
});

async function scrape() {
  const res = await call(`${collector.url}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics: ${res.status}`);
  return parsePrometheusText(res.text);
}

function value(samples: ReturnType<typeof parsePrometheusText>, name: string, labels: Record<string, string> = {}) {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}

test.serial('metrics - /metrics parses as Prometheus text and matches what was produced', async (t) => {
  let requests = 0;
  let records = 0;
  for (let i = 0; i < 5; i++) {
    await client.produce('counted', [
      { key: 'a', value: `x${i}` },
      { key: 'b', value: `y${i}` },
    ]);
    requests++;
    records += 2;
  }
  const batches = Buffer.concat([batchOf('a', 30), batchOf('b', 20)]);
  await client.produceBatches('counted', batches);
  requests++;
  records += 50;
  await client.commitOffsets('dash', {
    offsets: [{ topic: 'counted', partition: partitionForKey('a', 2), offset: 1 }],
  });
  await client.fetch('counted', 0, 0);

  const samples = await scrape();
  t.is(value(samples, 'tributary_collector_records_appended_total', { topic: 'counted' }), records);
  t.true(value(samples, 'tributary_collector_bytes_appended_total', { topic: 'counted' }) >= batches.length);
  t.is(value(samples, 'tributary_collector_log_end_offset', { topic: 'counted' }), records);
  t.is(value(samples, 'tributary_collector_log_start_offset', { topic: 'counted' }), 0);
  t.true(value(samples, 'tributary_collector_log_size_bytes', { topic: 'counted' }) > 0);
  t.true(value(samples, 'tributary_collector_log_segments', { topic: 'counted' }) >= 1);
  t.is(
    value(samples, 'tributary_collector_http_responses_total', {
      route: '/v1/topics/:topic/records',
      method: 'POST',
      status: '200',
    }),
    requests,
  );
  t.is(value(samples, 'tributary_collector_produce_duration_seconds_count'), requests);
  t.is(value(samples, 'tributary_collector_produce_duration_seconds_count', { encoding: 'binary' }), 1);
  t.is(value(samples, 'tributary_collector_fetch_duration_seconds_count', { encoding: 'json' }), 1);
  t.true(value(samples, 'tributary_collector_fsync_duration_seconds_count') >= 1, 'flush=always fsyncs');
  const endA = value(samples, 'tributary_collector_log_end_offset', {
    topic: 'counted',
    partition: String(partitionForKey('a', 2)),
  });
  t.is(value(samples, 'tributary_collector_group_committed_offset', { group: 'dash', topic: 'counted' }), 1);
  t.is(value(samples, 'tributary_collector_group_lag', { group: 'dash', topic: 'counted' }), endA - 1);
  t.true(samples.some((s) => s.name === 'process_cpu_seconds_total'));
  t.true(samples.some((s) => s.name.startsWith('nodejs_')));
  // A rejected request is counted by status and code.
  await call(`${collector.url}/v1/topics/counted/records`, {
    method: 'POST',
    body: '{',
    headers: { 'content-type': 'application/x-ndjson' },
  });
  const after = await scrape();
  t.is(
    value(after, 'tributary_collector_rejected_requests_total', {
      route: '/v1/topics/:topic/records',
      code: 'invalid_argument',
    }),
    1,
  );
});

const promBin = prometheusBinary();
(promBin ? test.serial : test.skip)(
  'metrics - a real Prometheus scrapes the collector and PromQL returns the produced count',
  async (t) => {
    const produced = 123;
    await client.produceBatches('scraped', Buffer.concat([batchOf('p', 100), batchOf('q', 23)]));
    const prometheus = await PrometheusServer.start({ targets: [new URL(collector.url).host], binary: promBin! });
    try {
      const result = await prometheus.waitFor(
        'sum(tributary_collector_records_appended_total{topic="scraped"})',
        (s) => s.length === 1 && s[0]!.value === produced,
        90_000,
      );
      t.is(result[0]!.value, produced);
      const ends = await prometheus.query('sum(tributary_collector_log_end_offset{topic="scraped"})');
      t.is(ends[0]?.value, produced);
      const up = await prometheus.query('up{job="tributary"}');
      t.is(up[0]?.value, 1);
    } finally {
      await prometheus.stop();
    }
  },
);
