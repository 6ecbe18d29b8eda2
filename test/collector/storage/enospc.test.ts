/** A full disk (a 1 MiB tmpfs, mounted by the test as root) rejects appends with StorageFullError, leaves nothing partial. */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { FileLogStore } from '../../../collector/storage/file/index.ts';
import { decodeRecords, encodeBatch } from '../../../shared/batch-codec.ts';
import { StorageFullError } from '../../../shared/errors.ts';

test('enospc - a full disk is StorageFullError; acknowledged data survives, nothing partial is visible', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'tributary-enospc-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dataDir]);
  t.teardown(async () => {
    execFileSync('umount', ['-l', dataDir]);
    await rm(dataDir, { recursive: true, force: true });
  });
  const open = () => FileLogStore.open({ dataDir, retentionCheckIntervalMs: 0 });
  let store = await open();
  await store.createTopic('f', { partitions: 1 });
  let acked = 0;
  let full: unknown;
  for (let i = 0; i < 200 && full === undefined; i++) {
    const records = [{ timestamp: 1_764_000_000_000 + i, value: Buffer.alloc(30_000, 97 + (i % 26)) }];
    try {
      const r = await store.appendChecked('f', 0, [encodeBatch({ key: 'k', labels: {}, records })]);
      t.is(r.baseOffset, acked);
      acked++;
    } catch (error) {
      full = error;
    }
  }
  t.true(full instanceof StorageFullError, String(full));
  t.true(acked > 5, `${acked} appends fit`);
  t.is((await store.describeTopic('f')).partitions[0]!.endOffset, acked);
  await store.close();
  store = await open();
  t.teardown(() => store.close());
  t.is((await store.describeTopic('f')).partitions[0]!.endOffset, acked);
  const values = decodeRecords((await store.read('f', 0, 0, 1 << 24)).batches);
  t.is(values.length, acked);
  for (const [i, r] of values.entries()) t.true(r.value.equals(Buffer.alloc(30_000, 97 + (i % 26))), `record ${i}`);
});
