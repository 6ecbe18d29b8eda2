/**
 * An agent that cannot deliver says so: it warns on the first attempts of an outage and then at a rate limit with
 * the running totals (attempts, seconds, bytes waiting), never going quiet; its `/readyz` is 503 with the topics it
 * cannot deliver, and 200 again once the collector is back. A real agent process against a real collector.
 */
import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { DeliveryState } from '../../agent/ship/delivery-state.ts';
import { CollectorProcess } from '../helpers/collector-process.ts';
import { freePort } from '../helpers/ports.ts';
import { fetchAll, startAgentProcess, tempDir, waitFor, writeAgentConfig } from './support.ts';

test('delivery - an outage warns on its first attempts, then once per interval with the totals', (t) => {
  const state = new DeliveryState({ warnFirst: 3, warnEveryMs: 60_000 });
  const warned: number[] = [];
  for (let second = 0; second < 600; second++) {
    const outage = state.failed('app', 'refused', 1_000_000 + second * 1000);
    if (outage) warned.push(outage.attempts);
  }
  // Attempts 1-3, then one per minute over ten minutes: never quiet, never flooding.
  t.deepEqual(warned, [1, 2, 3, 63, 123, 183, 243, 303, 363, 423, 483, 543]);
  t.deepEqual(
    state.current().map((o) => [o.topic, o.attempts, o.since]),
    [['app', 600, 1_000_000]],
  );
  t.is(state.delivered('app')?.attempts, 600);
  t.deepEqual(state.current(), []);
  t.is(state.failed('app', 'refused', 2_000_000)?.attempts, 1, 'a new outage starts over');
});

test('delivery - /readyz says when the agent cannot deliver, and the warnings carry the totals', async (t) => {
  const dir = await tempDir();
  const port = await freePort();
  const log = path.join(dir, 'app.log');
  await appendFile(log, 'one\ntwo\n');
  const config = await writeAgentConfig({
    dir,
    collectorUrl: `http://127.0.0.1:${port}`,
    sources: [{ include: [log], topic: 'app', service: 'app' }],
    extra: {
      collector: { urls: [`http://127.0.0.1:${port}`], retry: { initial: '50ms', max: '200ms' }, timeout: '2s' },
    },
  });
  const agent = await startAgentProcess(config);
  t.teardown(() => agent.kill());
  const readyz = agent.metricsUrl.replace(/\/metrics$/, '/readyz');
  const healthz = agent.metricsUrl.replace(/\/metrics$/, '/healthz');

  const down = await waitFor('/readyz to say the agent cannot deliver', async () => {
    const res = await fetch(readyz);
    return res.status === 503 ? ((await res.json()) as Record<string, unknown>) : undefined;
  });
  t.is(down!.status, 'cannot_deliver');
  t.true((down!.bytes_behind as number) > 0);
  const [topic] = down!.topics as { topic: string; attempts: number; last_error: string }[];
  t.is(topic!.topic, 'app');
  t.regex(topic!.last_error, /unreachable/);
  t.is((await fetch(healthz)).status, 200, '/healthz: the process itself is fine');

  await waitFor('more than 3 failed attempts', async () => (await agent.metric('tributary_agent_retries_total')) >= 6);
  const warnings = agent.logs.filter((l) => String(l.msg).startsWith('produce failed') && l.level === 'warn');
  t.is(warnings.length, 3, 'after three warnings, the next one waits for the rate limit (a minute)');
  t.regex(String(warnings[2]!.msg), /cannot deliver for \d+s: 3 attempts, \d+ bytes waiting/);
  t.true(typeof warnings[0]!.bytes_behind === 'number');

  const collector = await CollectorProcess.start({ port });
  t.teardown(() => collector.dispose());
  await waitFor('/readyz to be ready again', async () => (await fetch(readyz)).status === 200, 60_000);
  t.deepEqual(
    (await fetchAll(collector.url, 'app')).map((r) => r.value.toString()),
    ['one', 'two'],
  );
  t.true(agent.logs.some((l) => /^delivering again after \d+s$/.test(String(l.msg))));
});
