import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import {
  fetchAll,
  sleep,
  startAgentProcess,
  startTestCollector,
  tally,
  tempDir,
  waitFor,
  writeAgentConfig,
} from './support.ts';

/** Appends `total` numbered lines to `file`, `perTick` at a time, calling `at(n)` after each tick. */
async function writeLines(
  file: string,
  tag: string,
  total: number,
  perTick: number,
  at: (written: number) => Promise<void>,
): Promise<string[]> {
  const lines: string[] = [];
  for (let n = 0; n < total; ) {
    const chunk: string[] = [];
    for (let i = 0; i < perTick && n < total; i++, n++) chunk.push(`${tag} ${n} ${'r'.repeat(n % 50)}`);
    await appendFile(file, chunk.map((l) => `${l}\n`).join(''));
    lines.push(...chunk);
    await at(n);
    await sleep(5);
  }
  return lines;
}

for (const how of ['SIGTERM', 'SIGKILL'] as const) {
  test(`agent restart - ${how} mid-stream, restarted: no line lost${how === 'SIGTERM' ? ', none duplicated' : ''}`, async (t) => {
    const collector = await startTestCollector();
    const dir = await tempDir();
    const logs = path.join(dir, 'logs');
    await mkdir(logs);
    const topic = `restart-${how.toLowerCase()}`;
    const config = await writeAgentConfig({
      dir,
      collectorUrl: collector.url,
      sources: [{ include: [`${logs}/*.log`], topic }],
    });
    let agent = await startAgentProcess(config);
    try {
      const restarts = [6000, 12000];
      const files = ['a.log', 'b.log'].map((f) => path.join(logs, f));
      const written = await Promise.all(
        files.map((file, i) =>
          writeLines(file, `${how}-${i}`, 18000, 100, async (n) => {
            if (i === 0 && restarts.includes(n)) {
              if (how === 'SIGTERM') t.is(await agent.stop(), 0, 'a graceful stop exits 0');
              else await agent.kill();
              agent = await startAgentProcess(config);
            }
          }),
        ),
      );
      const expected = written.flat();
      const records = await waitFor(
        'every line to arrive',
        async () => {
          const got = await fetchAll(collector.url, topic);
          return tally(expected, got).missing.length === 0 ? got : undefined;
        },
        90_000,
        250,
      );
      const result = tally(expected, records);
      t.deepEqual(result.missing, []);
      t.deepEqual(result.unexpected, []);
      if (how === 'SIGTERM') t.is(result.duplicates, 0);
      else
        t.log(`SIGKILL twice mid-stream: ${result.duplicates} duplicate lines of ${expected.length} (at-least-once)`);
      // Per file, the lines arrived in file order (first occurrences).
      for (const f of files) {
        const values = records.filter((r) => r.labels.path === f).map((r) => r.value.toString());
        const firsts = values.filter((v, i) => values.indexOf(v) === i).map((v) => Number(v.split(' ')[1]));
        t.true(
          firsts.every((n, i) => i === 0 || n > firsts[i - 1]!),
          `${f} in order`,
        );
      }
    } finally {
      await agent.stop();
      await collector.close();
    }
  });
}
