/**
 * The soak's CI variant (test/soak/soak.ts; `npm run soak` runs the long one, 600 s by default): 60 s of writers into files rotated by
 * the real logrotate in create and copytruncate mode, with 8 SIGKILLs of the collector or the agent at random
 * moments. Create rotation and restarts must lose nothing and keep each file's order; copytruncate loss and order are reported.
 */
import { spawnSync } from 'node:child_process';
import test from 'ava';
import { hasLogrotate } from '../soak/rotation-kit.ts';
import { formatReport, runSoak, violations } from '../soak/soak.ts';

(hasLogrotate(spawnSync) ? test : test.skip)(
  'soak - 60 s of logrotate (create and copytruncate) with 8 SIGKILLs of collector and agent: create rotation loses nothing and keeps each file in order',
  async (t) => {
    t.timeout(300_000);
    const report = await runSoak({ seconds: 60, kills: 8 });
    t.log(`\n${formatReport(report)}`);
    t.deepEqual(violations(report), []);
    t.is(report.kills.collector + report.kills.agent, 8);
    t.true(report.rotations >= 5, `only ${report.rotations} logrotate runs`);
    t.is(report.logrotateFailures, 0);
    for (const f of report.files) t.true(f.written > 1000, `${f.file}: only ${f.written} lines written`);
  },
);
