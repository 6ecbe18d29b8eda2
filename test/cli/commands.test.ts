/**
 * What users of kcat, grep and kubectl expect of the client commands, against a real collector: `groups describe`
 * of an unknown group exits 1; destructive commands ask on a terminal (a real pseudo-terminal through util-linux
 * `script`) and `--yes` skips the question; `consume` text output names topic, partition and offset, and `-f` takes a
 * kcat-style format; an empty query says `0 lines matched` on a terminal.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import test from 'ava';
import { CollectorClient } from '../../shared/client/collector-client.ts';
import { CLI, CollectorProcess } from '../helpers/collector-process.ts';
import { needs } from '../helpers/requirement.ts';

const run = promisify(execFile);

async function tributary(
  url: string,
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      env: { ...process.env, NO_COLOR: '1', TRIBUTARY_URL: url },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Runs the CLI on a pseudo-terminal (stdin, stdout and stderr are a TTY), typing `input`. */
async function onTerminal(
  url: string,
  args: readonly string[],
  input: string,
): Promise<{ code: number; output: string }> {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qec', quoted, '/dev/null'], {
    env: { ...process.env, NO_COLOR: '1', TRIBUTARY_URL: url },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  // Answer once the question is on the terminal.
  const deadline = Date.now() + 50_000;
  while (input !== '' && !/\[y\/N\]/.test(output) && child.exitCode === null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  child.stdin.write(input);
  const [code] = (await once(child, 'exit')) as [number];
  clearTimeout(timer);
  return { code, output };
}

function haveScript(): boolean {
  return spawnSync('script', ['-qec', 'true', '/dev/null']).status === 0;
}

test('cli - groups describe of an unknown group exits 1 with a message', async (t) => {
  const collector = await CollectorProcess.start();
  t.teardown(() => collector.dispose());
  const result = await tributary(collector.url, ['groups', 'describe', 'nosuch']);
  t.is(result.code, 1);
  t.regex(result.stderr, /consumer group 'nosuch' does not exist/);
});

/** Tests that need a pseudo-terminal: util-linux `script` (fail under CI=true without it, skip elsewhere). */
const withTerminal = needs(
  haveScript() ? true : undefined,
  'util-linux `script` is not installed (it gives the test a pseudo-terminal)',
);

withTerminal.test('cli - topics delete asks on a terminal; --yes and scripts do not', async (t) => {
  const collector = await CollectorProcess.start();
  t.teardown(() => collector.dispose());
  const client = new CollectorClient({ urls: [collector.url] });
  for (const name of ['keep', 'gone', 'yes', 'piped']) await client.createTopic({ name, partitions: 1 });
  const names = async () => (await client.listTopics()).map((x) => x.name).sort();

  const refused = await onTerminal(collector.url, ['topics', 'delete', 'keep'], 'n\n');
  t.regex(refused.output, /delete topic keep and all its data\? \[y\/N\]/);
  t.regex(refused.output, /not confirmed: nothing was changed/);
  t.is(refused.code, 1);
  t.true((await names()).includes('keep'));

  const confirmed = await onTerminal(collector.url, ['topics', 'delete', 'gone'], 'y\n');
  t.is(confirmed.code, 0, confirmed.output);
  t.regex(confirmed.output, /deleted topic gone/);

  const yes = await onTerminal(collector.url, ['topics', 'delete', 'yes', '--yes'], '');
  t.is(yes.code, 0, yes.output);
  t.notRegex(yes.output, /\[y\/N\]/);

  const piped = await tributary(collector.url, ['topics', 'delete', 'piped']);
  t.is(piped.code, 0, piped.stderr);
  t.deepEqual(await names(), ['keep']);

  // An empty result says so on a terminal, and prints nothing in a pipe.
  const empty = await onTerminal(collector.url, ['query', 'keep', '--grep', 'nothing'], '');
  t.regex(empty.output, /0 lines matched/);
  const emptyPiped = await tributary(collector.url, ['query', 'keep', '--grep', 'nothing']);
  t.is(emptyPiped.stdout + emptyPiped.stderr, '');
});

test('cli - consume shows topic, partition and offset; -f takes a kcat-style format', async (t) => {
  const collector = await CollectorProcess.start();
  t.teardown(() => collector.dispose());
  const client = new CollectorClient({ urls: [collector.url] });
  await client.createTopic({ name: 'kc', partitions: 1 });
  await client.produce('kc', [
    { key: 'a', value: 'first', labels: { host: 'h1' } },
    { key: 'a', value: 'second', labels: { host: 'h1' } },
  ]);
  const text = await tributary(collector.url, ['consume', 'kc', '-g', 'g1', '--from', 'earliest', '-n', '2']);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /^kc\[0\]@0 \d{4}-\d\d-\d\dT\S+ host=h1 first\nkc\[0\]@1 \S+ host=h1 second\n$/);
  const formatted = await tributary(collector.url, [
    'consume',
    'kc',
    '-g',
    'g2',
    '--from',
    'earliest',
    '-n',
    '2',
    '-f',
    '%t %p %o %k %l: %s\\n',
  ]);
  t.is(formatted.stdout, 'kc 0 0 a host=h1: first\nkc 0 1 a host=h1: second\n');
});
