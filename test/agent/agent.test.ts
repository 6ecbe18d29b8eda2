import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import {
  fetchAll,
  startAgentProcess,
  startTestCollector,
  tally,
  tempDir,
  waitFor,
  writeAgentConfig,
} from './support.ts';

test('agent e2e - existing, appended, many and later files; globs and excludes', async (t) => {
  const collector = await startTestCollector();
  const dir = await tempDir();
  const logs = path.join(dir, 'logs');
  await mkdir(path.join(logs, 'nested/deeper'), { recursive: true });
  const expected: string[] = [];
  const write = async (file: string, lines: string[], track = true) => {
    await appendFile(path.join(logs, file), lines.map((l) => `${l}\n`).join(''));
    if (track) expected.push(...lines);
  };
  await write('present.log', ['present 1', 'present 2']);
  await write('ignored.txt', ['not matched'], false);
  await write('skip-me.log', ['excluded'], false);
  await write('nested/deeper/deep.log', ['deep 1']);
  const config = await writeAgentConfig({
    dir,
    collectorUrl: collector.url,
    sources: [
      {
        name: 'web',
        include: [`${logs}/*.log`, `${logs}/**/deep*.log`],
        exclude: [`${logs}/skip-*`],
        topic: 'e2e-basic',
      },
    ],
  });
  const agent = await startAgentProcess(config);
  try {
    await write('present.log', ['present 3 appended']);
    for (let i = 0; i < 20; i++) await write(`many-${i}.log`, [`many ${i} a`, `many ${i} b`]);
    await write('nested/deeper/deep.log', ['deep 2']);
    await write('skip-later.log', ['excluded later'], false);
    const records = await waitFor('every line to arrive', async () => {
      const got = await fetchAll(collector.url, 'e2e-basic');
      return got.length >= expected.length ? got : undefined;
    });
    const result = tally(expected, records);
    t.deepEqual(result.missing, []);
    t.deepEqual(result.unexpected, []);
    t.is(result.duplicates, 0);
    const one = records.find((r) => r.value.toString() === 'present 1')!;
    t.like(one.labels, { service: 'web', path: path.join(logs, 'present.log') });
    t.truthy(one.labels.host);
    t.is(one.key, `${one.labels.host}:${path.join(logs, 'present.log')}`);
    t.true((await agent.metric('tributary_agent_lines_acknowledged_total')) >= expected.length);
    t.is(
      await agent.metric('tributary_agent_files_watched'),
      22,
      'present, deep and 20 many-N: the excluded and unmatched files are not read',
    );
  } finally {
    await agent.stop();
    await collector.close();
  }
});

test('agent e2e - polling discovery (NFS mode), start_position end, restart keeps positions', async (t) => {
  const collector = await startTestCollector();
  const dir = await tempDir();
  const logs = path.join(dir, 'logs');
  await mkdir(logs);
  await writeFile(path.join(logs, 'old.log'), 'old history 1\nold history 2\n');
  const config = await writeAgentConfig({
    dir,
    collectorUrl: collector.url,
    sources: [{ include: [`${logs}/*.log`], topic: 'e2e-end' }],
    extra: { start_position: 'end', discovery: { poll: true, poll_interval: '100ms' } },
  });
  let agent = await startAgentProcess(config);
  try {
    await appendFile(path.join(logs, 'old.log'), 'old appended after start\n');
    await writeFile(path.join(logs, 'new.log'), 'new file line 1\n');
    const want = ['old appended after start', 'new file line 1'];
    await waitFor(
      'the lines after start',
      async () => tally(want, await fetchAll(collector.url, 'e2e-end')).missing.length === 0,
    );
    await agent.stop();
    // While the agent is down: more lines, and a file created (read from its beginning on restart, not its end).
    await appendFile(path.join(logs, 'old.log'), 'old while down\n');
    await writeFile(path.join(logs, 'created-while-down.log'), 'created while down 1\n');
    agent = await startAgentProcess(config);
    want.push('old while down', 'created while down 1');
    const records = await waitFor('the lines written while down', async () => {
      const got = await fetchAll(collector.url, 'e2e-end');
      return tally(want, got).missing.length === 0 ? got : undefined;
    });
    const result = tally(want, records);
    t.deepEqual(result.unexpected, [], 'old history before the first start is skipped (start_position: end)');
    t.is(result.duplicates, 0);
  } finally {
    await agent.stop();
    await collector.close();
  }
});

test('agent e2e - multiline events and the json parser with timestamp extraction', async (t) => {
  const collector = await startTestCollector();
  const dir = await tempDir();
  const logs = path.join(dir, 'logs');
  await mkdir(logs);
  const config = await writeAgentConfig({
    dir,
    collectorUrl: collector.url,
    sources: [
      { include: [`${logs}/java.log`], topic: 'e2e-frame', multiline: { start_pattern: '^\\d{4}-', timeout: '300ms' } },
      { include: [`${logs}/app.json`], topic: 'e2e-frame', parser: 'json' },
    ],
  });
  const agent = await startAgentProcess(config);
  try {
    await writeFile(
      path.join(logs, 'java.log'),
      '2026-11-25 ERROR boom\n  at a.B(C.java:1)\n  at d.E(F.java:2)\n2026-11-25 INFO fine\n',
    );
    await writeFile(
      path.join(logs, 'app.json'),
      '{"ts":"2026-11-25T01:02:03.004Z","level":"warn","msg":"disk"}\nnot json\n',
    );
    const records = await waitFor('the framed events', async () => {
      const got = await fetchAll(collector.url, 'e2e-frame');
      return got.length >= 4 ? got : undefined;
    });
    const values = records.map((r) => r.value.toString());
    t.true(values.includes('2026-11-25 ERROR boom\n  at a.B(C.java:1)\n  at d.E(F.java:2)'));
    t.true(values.includes('2026-11-25 INFO fine'), 'the last event leaves after the multiline timeout');
    const json = records.find((r) => r.value.toString().startsWith('{'))!;
    t.is(json.timestamp, Date.parse('2026-11-25T01:02:03.004Z'));
    t.like(json.fields, { level: 'warn', msg: 'disk' });
    t.true(values.includes('not json'), 'a line the parser cannot read is kept');
    t.is(await agent.metric('tributary_agent_parse_failures_total'), 1);
  } finally {
    await agent.stop();
    await collector.close();
  }
});
