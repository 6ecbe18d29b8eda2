/**
 * rotation matrix - {create, copytruncate} × {rotated names in the globs, not} × {no kill, agent SIGKILLed,
 * collector SIGKILLed, both}: real collector and agent processes, the real `logrotate` rotating `app.log` more than
 * once a second while a writer appends 2,000 lines/s (test/soak/rotation-matrix.ts runs a cell; `npm run soak --
 * --matrix` runs long cells).
 *
 * Promised, per cell (docs/guarantees.md, "Log rotation"):
 * - lost: no line that is still in a file of the log folder at the end (every rotated file is kept), in every cell;
 *   with create rotation, no line at all. With copytruncate, the lines in no file are the inherent window (written
 *   after logrotate's copy and before its truncate): no reader can ship them; the cell reports that window;
 * - duplicated: 0 without kills; per agent SIGKILL at most what it acknowledged since its last checkpoint write
 *   (checked against the most it acknowledged within one second, ten `checkpoint.interval`s, for fsync latency on a
 *   loaded machine); a collector SIGKILL duplicates nothing (the agent's batches carry its producer id and sequence,
 *   and the collector, its producer state rebuilt from the log on restart, does not store a resent batch twice).
 * Cells run three at a time; each has its own deadline.
 */
import { spawnSync } from 'node:child_process';
import test from 'ava';
import { hasLogrotate } from '../soak/rotation-kit.ts';
import { allCells, type CellReport, cellName, formatCells, runCell } from '../soak/rotation-matrix.ts';

const SECONDS = 5;
const CONCURRENCY = 3;

let free = CONCURRENCY;
const waiting: (() => void)[] = [];
async function slot(): Promise<() => void> {
  if (free > 0) free--;
  else await new Promise<void>((resolve) => waiting.push(resolve));
  return () => {
    const next = waiting.shift();
    if (next) next();
    else free++;
  };
}

/** What broke a cell's promise (empty when none). */
function cellViolations(r: CellReport): string[] {
  const out: string[] = [];
  if (r.lostOnDisk > 0) {
    out.push(`${r.lostOnDisk} lines lost that are still on disk (e.g. ${r.lostOnDiskSample.join(', ')})`);
  }
  if (r.mode === 'create' && r.lost > 0) out.push(`${r.lost} lines lost (e.g. ${r.lostSample.join(', ')})`);
  const allowed = r.kills.agent * r.maxAckedPerSecond;
  if (r.duplicates > allowed) out.push(`${r.duplicates} duplicates, more than the ${allowed} the kills explain`);
  if (r.foreign > 0) out.push(`${r.foreign} stored lines were not written by the cell`);
  if (r.logrotateFailures > 0) out.push(`${r.logrotateFailures} logrotate runs failed`);
  if (r.rotations < SECONDS) out.push(`only ${r.rotations} rotations`);
  return out;
}

const ready = hasLogrotate(spawnSync);
for (const cell of allCells()) {
  const title = `rotation matrix - ${cellName(cell)}`;
  (ready ? test : test.skip)(ready ? title : `${title} (skipped: logrotate is not installed)`, async (t) => {
    t.timeout(15 * 60_000);
    const release = await slot();
    try {
      const report = await runCell({ ...cell, seconds: SECONDS, rate: 2000, rotateEveryMs: 700 });
      t.log(`\n${formatCells([report])}`);
      t.deepEqual(cellViolations(report), []);
      t.true(report.written >= SECONDS * 2000 * 0.9, `only ${report.written} lines written`);
    } finally {
      release();
    }
  });
}
