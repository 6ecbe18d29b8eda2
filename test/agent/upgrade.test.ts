/**
 * agent upgrade - a checkpoint file written by the agent as it was before identity search (commit 4529bcb, fixture
 * test/agent/fixtures/checkpoints-v1-4529bcb.json, produced by that commit's CheckpointStore) is read by this agent:
 * it resumes exactly at the acknowledged position, losing and repeating nothing, also for a file renamed out of the
 * glob while the old agent was stopped.
 *
 * The fixture names device:inode 111:222, a CRC of 1234 and /var/log/upgrade/app.log; the test puts the identity,
 * fingerprint and path of its real file in their place (nothing else is changed).
 */
import { open, readFile, rename, writeFile } from 'node:fs/promises';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { fingerprintPrefix } from '../../agent/read/fingerprint.ts';
import {
  fetchAll,
  startAgentProcess,
  startTestCollector,
  tally,
  tempDir,
  waitFor,
  writeAgentConfig,
} from './support.ts';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/checkpoints-v1-4529bcb.json');
/** The fixture's position: the end of line 120 of 54-byte lines. */
const LINE_BYTES = 54;
const ACKED_LINES = 120;

const line = (n: number) => `upgrade ${String(n).padStart(4, '0')} ${'x'.repeat(LINE_BYTES - 14)}`;

for (const renamed of [false, true]) {
  test(`agent upgrade - an old agent's checkpoint resumes at its position: nothing lost, nothing repeated${renamed ? ' (file renamed out of the glob meanwhile)' : ''}`, async (t) => {
    t.timeout(180_000);
    const collector = await startTestCollector();
    let agent: Awaited<ReturnType<typeof startAgentProcess>> | undefined;
    try {
      const dir = await tempDir();
      const logs = path.join(dir, 'logs');
      await mkdir(logs);
      await mkdir(path.join(dir, 'state'));
      const file = path.join(logs, 'app.log');
      const lines = Array.from({ length: 200 }, (_, i) => line(i));
      await writeFile(file, lines.map((l) => `${l}\n`).join(''));
      t.is((await stat(file)).size, 200 * LINE_BYTES);
      const st = await stat(file);
      const handle = await open(file, 'r');
      const print = await fingerprintPrefix(handle, 256);
      await handle.close();
      const fixture = (await readFile(FIXTURE, 'utf8'))
        .replace('"111:222"', `"${st.dev}:${st.ino}"`)
        .replace('"crc": 1234', `"crc": ${print.crc}`)
        .replace('"/var/log/upgrade/app.log"', JSON.stringify(file));
      await writeFile(path.join(dir, 'state', 'checkpoints.json'), fixture);
      if (renamed) {
        // logrotate's create while the agent was being upgraded: the old file's rest is under a name no glob matches.
        await rename(file, `${file}.1`);
        await writeFile(file, 'after the upgrade\n');
      }
      const config = await writeAgentConfig({
        dir,
        collectorUrl: collector.url,
        sources: [{ include: [file], topic: 'upgrade' }],
      });
      agent = await startAgentProcess(config);
      const expected = [...lines.slice(ACKED_LINES), ...(renamed ? ['after the upgrade'] : [])];
      const records = await waitFor('the lines after the checkpoint', async () => {
        const got = await fetchAll(collector.url, 'upgrade');
        return got.length >= expected.length ? got : undefined;
      });
      await new Promise((r) => setTimeout(r, 1000)); // anything repeated would arrive by now
      const result = tally(expected, await fetchAll(collector.url, 'upgrade'));
      t.deepEqual(result.missing, []);
      t.deepEqual(result.unexpected, [], 'lines before the checkpoint were sent again');
      t.is(result.duplicates, 0);
      t.true(records.length >= expected.length);
    } finally {
      await agent?.kill();
      await collector.close();
    }
  });
}
