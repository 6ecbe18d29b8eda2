/**
 * Crash and shutdown safety of the real collector under load: every record that got a 2xx answer must be readable
 * after a restart, whether the collector was stopped with SIGTERM (graceful: in-flight produces finish, exit 0) or
 * killed with SIGKILL (flush=always: an ack means the batch was fsynced).
 */
import test from 'ava';
import { CollectorProcess, sleep } from '../helpers/collector-process.ts';
import { call, ndjson, waitFor } from './support.ts';

const PARTITIONS = 3;
const WRITERS = 6;

interface Ack {
  readonly values: string[];
  readonly partitions: { partition: number; base_offset: number; last_offset: number }[];
}

/** Writers produce small NDJSON requests back to back until `stop` is set; returns every acknowledged request. */
function startLoad(url: string, topic: string) {
  const acks: Ack[] = [];
  let stop = false;
  let errors = 0;
  const writers = Array.from({ length: WRITERS }, async (_v, w) => {
    for (let seq = 0; !stop; seq++) {
      const values = Array.from({ length: 20 }, (_x, i) => `w${w}-r${seq}-${i}`);
      const body = ndjson(values.map((value, i) => ({ key: `source-${w}-${i % 2}`, value })));
      try {
        const res = await fetch(`${url}/v1/topics/${topic}/records`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/x-ndjson' },
          signal: AbortSignal.timeout(30_000),
        });
        const text = await res.text();
        if (res.status === 200) acks.push({ values, partitions: (JSON.parse(text) as Ack).partitions });
        else errors++;
      } catch {
        errors++;
        await sleep(20);
      }
    }
  });
  return {
    acks,
    get errors() {
      return errors;
    },
    async stop() {
      stop = true;
      await Promise.all(writers);
    },
  };
}

async function readAll(url: string, topic: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (let p = 0; p < PARTITIONS; p++) {
    let offset = 0;
    for (;;) {
      const res = await call(`${url}/v1/topics/${topic}/partitions/${p}/records?offset=${offset}&max_bytes=1048576`);
      if (res.status !== 200) throw new Error(`fetch failed: ${res.status} ${res.text}`);
      const body = res.json as {
        records: { offset: number; value: string }[];
        next_offset: number;
        end_offset: number;
      };
      for (const r of body.records) found.set(r.value, r.offset);
      if (body.next_offset >= body.end_offset) break;
      offset = body.next_offset;
    }
  }
  return found;
}

async function runUnderLoad(t: import('ava').ExecutionContext, signal: 'SIGTERM' | 'SIGKILL') {
  const collector = await CollectorProcess.start({
    config: { topics: { default_partitions: PARTITIONS, flush: 'always' } },
  });
  try {
    const load = startLoad(collector.url, 'durable');
    // Let the load run until enough requests were acknowledged (bounded in time).
    await waitFor('acknowledged produces', () => load.acks.length >= 150, 90_000);
    const code = await collector.stop(signal);
    await load.stop();
    if (signal === 'SIGTERM') t.is(code, 0, `exit code after SIGTERM; logs:\n${collector.logs}`);
    const acked = load.acks.length;
    t.true(acked >= 150);
    await collector.restart();
    const found = await readAll(collector.url, 'durable');
    let missing = 0;
    for (const ack of load.acks) for (const v of ack.values) if (!found.has(v)) missing++;
    t.is(missing, 0, `${missing} acknowledged records missing after ${signal} and restart`);
    // Offsets answered at produce time are the offsets the records have after the restart.
    for (const ack of load.acks.slice(0, 50)) {
      const offsets = ack.values.map((v) => found.get(v)!);
      for (const p of ack.partitions) {
        t.true(offsets.includes(p.base_offset) && offsets.includes(p.last_offset));
      }
    }
    t.log(
      `${signal}: ${acked} requests (${acked * 20} records) acknowledged, ${load.errors} refused or cut, all found`,
    );
  } finally {
    await collector.dispose();
  }
}

test.serial(
  'shutdown - SIGTERM under load: exit 0 and every acknowledged record is readable after restart',
  async (t) => {
    await runUnderLoad(t, 'SIGTERM');
  },
);

test.serial('shutdown - SIGKILL under load with flush=always: every acknowledged record survives', async (t) => {
  await runUnderLoad(t, 'SIGKILL');
});

test.serial('shutdown - a pending long-poll does not hold the shutdown up', async (t) => {
  const collector = await CollectorProcess.start();
  try {
    const produced = await call(`${collector.url}/v1/topics/quiet/records`, {
      method: 'POST',
      body: ndjson([{ key: 'k', value: 'v' }]),
      headers: { 'content-type': 'application/x-ndjson' },
    });
    t.is(produced.status, 200);
    const poll = call(`${collector.url}/v1/topics/quiet/partitions/0/records?offset=1&wait_ms=60000`).catch(
      (error: Error) => error,
    );
    await sleep(500);
    const started = Date.now();
    const code = await collector.stop('SIGTERM');
    const elapsed = Date.now() - started;
    t.is(code, 0);
    t.true(elapsed < 20_000, `shutdown took ${elapsed} ms with a 60 s long-poll pending`);
    const answer = await poll;
    if (!(answer instanceof Error)) t.is(answer.status, 200, answer.text);
  } finally {
    await collector.dispose();
  }
});
