/**
 * The consumer group commands as a user types them (`tributary consume`, `groups describe`, `groups reset-offsets`),
 * and the `tributary/client` example of docs/consumers.md run as written.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import type { CollectorClient } from '../../shared/client/collector-client.ts';
import { waitFor } from '../agent/support.ts';
import { CLI, type CollectorProcess, REPO_ROOT } from '../helpers/collector-process.ts';
import { collectorForFile, ConsumeProcess } from './support.ts';

const run = promisify(execFile);
let collector: CollectorProcess;
let client: CollectorClient;

collectorForFile((started, startedClient) => {
  collector = started;
  client = startedClient;
});

async function tributary(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args, '--url', collector.url], {
      cwd: REPO_ROOT,
      env: { ...process.env, NO_COLOR: '1' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test.serial(
  'cli - consume prints and commits; groups describe shows lag and members; reset-offsets is refused while a member is active',
  async (t) => {
    await client.createTopic({ name: 'cli-groups', partitions: 2 });
    await client.produce(
      'cli-groups',
      Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: `line ${i}`, labels: { host: 'web-1' } })),
    );

    const consumed = await tributary(['consume', 'cli-groups', '--group', 'g-cli', '--from', 'earliest', '-n', '20']);
    t.is(consumed.code, 0, consumed.stderr);
    const lines = consumed.stdout.trim().split('\n');
    t.is(lines.length, 20);
    t.regex(
      lines[0]!,
      /^cli-groups\[\d\]@\d+ \d{4}-\d{2}-\d{2}T\S+ host=web-1 line \d+$/,
      'text: position, time, labels, line',
    );

    const idle = await tributary(['groups', 'describe', 'g-cli']);
    t.is(idle.code, 0, idle.stderr);
    t.regex(idle.stdout, /no active members/);
    t.regex(idle.stdout, /TOPIC\s+PARTITION\s+COMMITTED\s+END\s+LAG/);
    const lags = idle.stdout
      .split('\n')
      .filter((l) => l.startsWith('cli-groups'))
      .map((l) => l.split(/\s+/)[4]);
    t.deepEqual(lags, ['0', '0'], 'everything printed was committed');

    // A member runs: describe shows it, reset is refused and changes nothing.
    const member = ConsumeProcess.start(collector.url, ['cli-groups', '--group', 'g-cli', '--client-id', 'indexer-1']);
    try {
      await waitFor('the member to join', async () => (await client.groupMembers('g-cli')).members.length === 1);
      const busy = await tributary(['groups', 'describe', 'g-cli']);
      t.regex(busy.stdout, /generation \d+, 1 active member/);
      t.regex(busy.stdout, /indexer-1-/);
      const refused = await tributary(['groups', 'reset-offsets', 'g-cli', '--to', 'earliest']);
      t.not(refused.code, 0);
      t.regex(refused.stderr, /cannot reset offsets: group g-cli has 1 active member\(s\) \(indexer-1\)/);
      t.deepEqual(
        (await client.groupOffsets('g-cli')).map((o) => o.lag),
        [0, 0],
      );
    } finally {
      await member.stop('SIGTERM');
    }
    t.is((await client.groupMembers('g-cli')).members.length, 0, 'SIGTERM leaves the group');

    const reset = await tributary(['groups', 'reset-offsets', 'g-cli', '--to', 'earliest', '-o', 'json']);
    t.is(reset.code, 0, reset.stderr);
    t.deepEqual(
      (JSON.parse(reset.stdout) as { offsets: { offset: number }[] }).offsets.map((o) => o.offset),
      [0, 0],
    );
    const again = await tributary(['consume', 'cli-groups', '--group', 'g-cli', '-n', '20', '-o', 'raw']);
    t.deepEqual(
      again.stdout.trim().split('\n').sort(),
      Array.from({ length: 20 }, (_, i) => `line ${i}`).sort(),
      'after the reset to earliest, the group reads everything again',
    );

    // A member that has not committed yet: every partition is listed, committed '-', with its owner.
    const fresh = await client.joinGroup('g-fresh', {
      topics: ['cli-groups'],
      client_id: 'fresh',
      session_timeout_ms: 30_000,
    });
    const described = await tributary(['groups', 'describe', 'g-fresh']);
    const rows = described.stdout.split('\n').filter((l) => l.startsWith('cli-groups'));
    t.is(rows.length, 2, described.stdout);
    for (const row of rows)
      t.regex(row, new RegExp(`^cli-groups\\s+\\d\\s+-\\s+\\d+\\s+-\\s+-\\s+${fresh.member_id}$`));
    await client.leaveGroup('g-fresh', fresh.member_id);

    const bad = await tributary(['consume', 'cli-groups', '--group', 'g-cli', '--from', 'yesterday-ish']);
    t.not(bad.code, 0);
    t.regex(bad.stderr, /--from "yesterday-ish" is not a time/);
  },
);

test.serial('cli - the tributary/client example of docs/consumers.md runs as written', async (t) => {
  const doc = await readFile(path.join(REPO_ROOT, 'docs/consumers.md'), 'utf8');
  const example = /```js\n([\s\S]*?)```/.exec(doc)?.[1];
  t.truthy(example, 'docs/consumers.md has a js example');
  // Inside the package, so that `tributary/client` resolves as it does for a program depending on the package.
  const dir = path.join(REPO_ROOT, '.tributary', `example-${process.pid}`);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'consume-example.mjs');
  await writeFile(file, example!);
  try {
    const { stdout } = await run(process.execPath, [file], {
      cwd: dir,
      env: { ...process.env, TRIBUTARY_URL: collector.url },
      timeout: 60_000,
    });
    const lines = stdout.trim().split('\n');
    t.is(lines.length, 3);
    t.deepEqual(lines.map((l) => l.replace(/^example\/\d+@\d+ /, '')).sort(), [
      'order-1: created',
      'order-1: paid',
      'order-2: created',
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
