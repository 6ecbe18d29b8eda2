/**
 * The journald source end to end: real journal files written by systemd-journal-remote into the test's own folder
 * (appended to while the agent runs), the real agent process following them with journalctl, the real collector.
 * Labels and timestamps from the entries, units included and excluded, and resumption from the acknowledged cursor
 * after a graceful stop and after SIGKILL: every entry arrives (at-least-once, no gap).
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { findTool } from '../helpers/external-tools.ts';
import { needs } from '../helpers/requirement.ts';
import { fetchAll, startAgentProcess, startTestCollector, tempDir, waitFor, writeAgentConfig } from './support.ts';

const run = promisify(execFile);
const JOURNAL_REMOTE = ['/lib/systemd/systemd-journal-remote', '/usr/lib/systemd/systemd-journal-remote'];
const BOOT = '0123456789abcdef0123456789abcdef';
const T0 = Date.UTC(2026, 11, 2, 3, 0, 0);

interface Entry {
  readonly message: string;
  readonly unit: string;
  readonly priority: number;
  readonly pid: number;
}

let seq = 0;

/** Appends entries to dir/remote.journal through systemd-journal-remote (export format in, journal file out). */
async function appendJournal(remote: string, dir: string, entries: readonly Entry[]): Promise<void> {
  const exportText = entries
    .map((e) => {
      seq++;
      return [
        `__REALTIME_TIMESTAMP=${(T0 + seq) * 1000}`,
        `__MONOTONIC_TIMESTAMP=${seq * 1000}`,
        `_BOOT_ID=${BOOT}`,
        `_HOSTNAME=node-9`,
        `_SYSTEMD_UNIT=${e.unit}`,
        `SYSLOG_IDENTIFIER=${e.unit.replace('.service', '')}`,
        `PRIORITY=${e.priority}`,
        `_PID=${e.pid}`,
        `MESSAGE=${e.message}`,
        '',
        '',
      ].join('\n');
    })
    .join('');
  const file = path.join(dir, `batch-${seq}.export`);
  await writeFile(file, exportText);
  await run(remote, [`--output=${path.join(dir, 'journal', 'remote.journal')}`, file]);
}

function entries(from: number, count: number, unit: string): Entry[] {
  return Array.from({ length: count }, (_v, i) => ({
    message: `${unit} entry ${from + i}`,
    unit,
    priority: (from + i) % 8,
    pid: 100 + ((from + i) % 3),
  }));
}

const remoteTool = findTool('systemd-journal-remote', JOURNAL_REMOTE);
const journalctlTool = findTool('journalctl');
const withJournalTools = needs(
  remoteTool && journalctlTool ? { remote: remoteTool, journalctl: journalctlTool } : undefined,
  'systemd-journal-remote and journalctl are needed (apt-get install systemd-journal-remote)',
);

withJournalTools.test(
  'journald - follows journal files: labels, timestamps, units excluded, resumes after stop and SIGKILL',
  async (t, { remote, journalctl }) => {
    const collector = await startTestCollector();
    const dir = await tempDir();
    const journalDir = path.join(dir, 'journal');
    await import('node:fs/promises').then((fs) => fs.mkdir(journalDir));
    const expected: string[] = [];
    const add = async (list: Entry[]) => {
      await appendJournal(remote, dir, list);
      expected.push(...list.filter((e) => e.unit !== 'noisy.service').map((e) => e.message));
    };
    await add([...entries(0, 60, 'shop.service'), ...entries(0, 20, 'noisy.service'), ...entries(0, 40, 'db.service')]);
    const config = await writeAgentConfig({
      dir,
      collectorUrl: collector.url,
      sources: [],
      extra: {
        journald: [
          { name: 'all', topic: 'journal', directory: journalDir, exclude_units: ['noisy.service'], journalctl },
          { name: 'db-only', topic: 'journal-db', directory: journalDir, units: ['db.service'], journalctl },
        ],
      },
    });
    let agent = await startAgentProcess(config);
    const arrived = async (topic: string, want: readonly string[]) => {
      const got = await waitFor(
        `${want.length} entries in ${topic}`,
        async () => {
          const records = await fetchAll(collector.url, topic);
          const values = new Set(records.map((r) => r.value.toString()));
          return want.every((w) => values.has(w)) ? records : undefined;
        },
        60_000,
        250,
      ).catch(async (error: Error) => {
        const values = new Set((await fetchAll(collector.url, topic)).map((r) => r.value.toString()));
        t.log(
          `missing in ${topic}: ${want
            .filter((w) => !values.has(w))
            .slice(0, 10)
            .join(' | ')}`,
        );
        throw error;
      });
      return got;
    };
    try {
      let records = await arrived('journal', expected);
      t.false(records.some((r) => r.value.toString().startsWith('noisy')));
      const first = records.find((r) => r.value.toString() === 'shop.service entry 0')!;
      t.like(first.labels, {
        unit: 'shop.service',
        syslog_identifier: 'shop',
        level: 'emerg',
        host: 'node-9',
        pid: '100',
      });
      t.is(first.timestamp, T0 + 1);
      t.is(records.find((r) => r.value.toString() === 'shop.service entry 6')!.labels.level, 'info');

      // Appended while the agent follows.
      await add(entries(60, 50, 'shop.service'));
      await arrived('journal', expected);
      const dbOnly = await arrived(
        'journal-db',
        entries(0, 40, 'db.service').map((e) => e.message),
      );
      t.true(dbOnly.every((r) => r.labels.unit === 'db.service'));

      // A graceful stop writes the cursor; entries appended while the agent is down arrive after it starts again.
      t.is(await agent.stop(), 0);
      const cursor = JSON.parse(await readFile(path.join(dir, 'state', 'journald-all.cursor'), 'utf8')) as {
        cursor: string;
      };
      t.regex(cursor.cursor, /^s=/);
      await add(entries(110, 30, 'shop.service'));
      agent = await startAgentProcess(config);
      await arrived('journal', expected);

      // SIGKILL in the middle of a stream of entries: nothing is skipped after the restart.
      const writing = (async () => {
        for (let i = 0; i < 5; i++) await add(entries(140 + i * 40, 40, 'shop.service'));
      })();
      await new Promise((r) => setTimeout(r, 300));
      await agent.kill();
      await writing;
      agent = await startAgentProcess(config);
      records = await arrived('journal', expected);
      const counts = new Map<string, number>();
      for (const r of records) counts.set(r.value.toString(), (counts.get(r.value.toString()) ?? 0) + 1);
      const duplicates = [...counts.values()].reduce((n, c) => n + c - 1, 0);
      t.log(`${expected.length} entries, ${duplicates} delivered twice (at-least-once after SIGKILL)`);
      t.true(duplicates <= 400);
    } finally {
      await agent.stop();
      await collector.stop();
    }
  },
);
