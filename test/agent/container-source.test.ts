/**
 * The agent reading container logs as the kubelet lays them out, end to end (real agent process, real collector):
 * CRI and Docker files, split lines joined, runtime timestamps and streams kept, namespace/pod/container labels from
 * the path, and the kubelet's rotation (rename to `<n>.log.<timestamp>`, a new `<n>.log`) losing nothing.
 */
import { appendFile, mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { fetchAll, startAgentProcess, startTestCollector, tempDir, waitFor, writeAgentConfig } from './support.ts';

const TS = (ms: number) => new Date(Date.UTC(2026, 11, 2, 4, 0, 0, 0) + ms).toISOString().replace('Z', '456789Z');

test('container logs - CRI and Docker under kubelet paths: prefix stripped, partial lines joined, labels, rotation', async (t) => {
  const collector = await startTestCollector();
  const dir = await tempDir();
  const criDir = path.join(dir, 'pods', 'shop_checkout-5f6d_9a1b2c3d', 'app');
  const dockerDir = path.join(dir, 'containers');
  await mkdir(criDir, { recursive: true });
  await mkdir(dockerDir, { recursive: true });
  const cri = path.join(criDir, '0.log');
  const dockerFile = path.join(dockerDir, `web-1_frontend_nginx-${'c'.repeat(64)}.log`);
  await writeFile(cri, '');
  await writeFile(dockerFile, '');
  const config = await writeAgentConfig({
    dir,
    collectorUrl: collector.url,
    sources: [
      { include: [path.join(dir, 'pods/*/*/*.log')], topic: 'k8s', format: 'cri' },
      { include: [path.join(dockerDir, '*.log')], topic: 'k8s', format: 'auto' },
    ],
  });
  const agent = await startAgentProcess(config);
  const openedCount = () => agent.logs.filter((l) => l.msg === 'reading file' && l.path === cri).length;
  try {
    await waitFor('0.log opened', () => openedCount() > 0, 60_000, 50);
    const expected: string[] = [];
    let n = 0;
    const criLine = (text: string, stream = 'stdout') => `${TS(n++)} ${stream} F ${text}\n`;
    // Round 1: whole lines, a line split in three pieces, stderr.
    await appendFile(
      cri,
      criLine('started') +
        `${TS(n)} stdout P part one / ` +
        `\n${TS(n)} stdout P part two / \n${TS(n++)} stdout F part three\n` +
        criLine('warning on stderr', 'stderr'),
    );
    expected.push('started', 'part one / part two / part three', 'warning on stderr');
    // Docker: a 16 KiB split line and a plain one.
    const big = 'd'.repeat(16 * 1024);
    await appendFile(
      dockerFile,
      `${JSON.stringify({ log: big, stream: 'stdout', time: TS(0) })}\n${JSON.stringify({ log: 'end\n', stream: 'stdout', time: TS(1) })}\n${JSON.stringify({ log: 'docker plain\n', stream: 'stderr', time: TS(2) })}\n`,
    );
    // Kubelet rotation: 0.log -> 0.log.<timestamp>, the runtime goes on in a new 0.log; a few lines land in the
    // rotated file before the runtime reopens.
    for (let r = 0; r < 5; r++) {
      const batch = Array.from({ length: 40 }, (_v, i) => `round ${r} line ${i}`);
      await appendFile(cri, batch.map((l) => criLine(l)).join(''));
      expected.push(...batch);
      await rename(cri, `${cri}.2026120204${String(r).padStart(4, '0')}`);
      await appendFile(`${cri}.2026120204${String(r).padStart(4, '0')}`, criLine(`late ${r}`));
      expected.push(`late ${r}`);
      // The agent must have opened the new file before the runtime writes and the kubelet renames it to a name
      // the glob does not match (in a cluster, files live for megabytes; here for milliseconds).
      const opened = openedCount();
      await writeFile(cri, '');
      await waitFor('the new 0.log opened', () => openedCount() > opened, 60_000, 50);
    }
    const records = await waitFor(
      'every container line',
      async () => {
        const got = await fetchAll(collector.url, 'k8s');
        return got.length >= expected.length + 2 ? got : undefined;
      },
      60_000,
      250,
    ).catch(async (error: Error) => {
      const got = await fetchAll(collector.url, 'k8s');
      const values = new Set(got.map((r) => r.value.toString()));
      t.log(`received ${got.length}; missing: ${expected.filter((e) => !values.has(e)).join(' | ')}`);
      t.log(got.slice(0, 8).map((r) => `${JSON.stringify(r.labels)} ${r.value.toString().slice(0, 80)}`));
      throw error;
    });
    const criRecords = records.filter((r) => r.labels.namespace === 'shop');
    t.deepEqual(criRecords.map((r) => r.value.toString()).sort(), [...expected].sort());
    const started = criRecords.find((r) => r.value.toString() === 'started')!;
    t.like(started.labels, { namespace: 'shop', pod: 'checkout-5f6d', container: 'app' });
    t.is(started.timestamp, Date.UTC(2026, 11, 2, 4, 0, 0, 0));
    t.is(started.fields?.stream, 'stdout');
    t.is(criRecords.find((r) => r.value.toString() === 'warning on stderr')!.fields?.stream, 'stderr');
    const docker = records.filter((r) => r.labels.namespace === 'frontend');
    t.deepEqual(
      docker.map((r) => [r.value.toString(), r.fields?.stream]),
      [
        [`${big}end`, 'stdout'],
        ['docker plain', 'stderr'],
      ],
    );
    t.like(docker[0]!.labels, { pod: 'web-1', container: 'nginx' });
  } finally {
    await agent.stop();
    await collector.close();
  }
});
