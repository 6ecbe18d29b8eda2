// Appends to a file store in a loop and prints "offset<TAB>value" for every append that resolved, so a parent
// can kill it at any moment and check that every reported record survived (test/collector/storage/kill9.test.ts).
import { FileLogStore } from '../../../collector/storage/file/index.ts';
import { encodeBatch } from '../../../shared/batch-codec.ts';

const [dataDir, startArg] = process.argv.slice(2);
const store = await FileLogStore.open({ dataDir: dataDir!, retentionCheckIntervalMs: 0 });
if (!store.hasTopic('t')) await store.createTopic('t', { partitions: 1, segmentBytes: 64 * 1024 });
process.stdout.write('ready\n');
let i = Number(startArg ?? 0);
const inFlight = new Set<Promise<void>>();
for (;;) {
  // Several appends in flight at once, so the kill lands inside group commits too.
  while (inFlight.size < 4) {
    const value = `record-${i++}-`.padEnd(40 + (i % 200), 'x');
    const p = store
      .appendChecked('t', 0, [
        encodeBatch({ key: 'k', labels: {}, records: [{ timestamp: Date.now(), value: Buffer.from(value) }] }),
      ])
      .then((r) => {
        process.stdout.write(`${r.baseOffset}\t${value}\n`);
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.race(inFlight);
}
