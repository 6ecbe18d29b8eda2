/**
 * The CLI on the PATH, as the README says: `npm install -g --prefix DIR .` of the checkout (offline: nothing is
 * fetched), then the documented commands run as `tributary …` from another directory, against a real collector.
 * It runs whatever the package's `bin` points at (TypeScript through tsx, or compiled JavaScript).
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { CollectorProcess, REPO_ROOT } from '../helpers/collector-process.ts';

const run = promisify(execFile);

test('cli install - npm install -g of the checkout puts a working `tributary` on the PATH', async (t) => {
  const prefix = await mkdtemp(path.join(os.tmpdir(), 'tributary-prefix-'));
  const elsewhere = await mkdtemp(path.join(os.tmpdir(), 'tributary-cwd-'));
  const collector = await CollectorProcess.start();
  t.teardown(async () => {
    await collector.dispose();
    await rm(prefix, { recursive: true, force: true });
    await rm(elsewhere, { recursive: true, force: true });
  });
  // --ignore-scripts: a folder install would run `prepare`, rebuilding this checkout's dist/ under the tests that
  // run beside this one; `npm test` has just built it.
  const args = ['install', '-g', '--prefix', prefix, '--offline', '--ignore-scripts', '--no-audit', '--no-fund'];
  await run('npm', [...args, REPO_ROOT], {
    cwd: elsewhere,
    timeout: 180_000,
  });
  const pkg = JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
    bin: Record<string, string>;
  };
  t.truthy(pkg.bin.tributary, 'the package declares the tributary command');
  await access(path.join(prefix, 'bin', 'tributary'));

  // Only the prefix's bin and node's own directory on the PATH: `tributary` can come from nowhere else.
  const env = {
    ...process.env,
    PATH: `${path.join(prefix, 'bin')}:${path.dirname(process.execPath)}:/usr/bin:/bin`,
    TRIBUTARY_URL: collector.url,
    NO_COLOR: '1',
  };
  const help = await run('tributary', ['--help'], { cwd: elsewhere, env });
  for (const sub of ['collector', 'agent', 'up', 'query', 'tail', 'consume', 'topics', 'groups']) {
    t.regex(help.stdout, new RegExp(`^  ${sub}\\b`, 'm'), `--help lists ${sub}`);
  }

  const res = await fetch(`${collector.url}/v1/topics/app/records`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: `${JSON.stringify({ key: 'web-1:/var/log/app.log', labels: { host: 'web-1' }, value: 'upstream timeout' })}\n`,
  });
  t.is(res.status, 200);
  // The README's commands, as written there.
  const readme = await readFile(path.join(REPO_ROOT, 'README.md'), 'utf8');
  t.true(readme.includes('tributary query app --since 15m --grep timeout'));
  const query = await run('sh', ['-c', 'tributary query app --since 15m --grep timeout'], { cwd: elsewhere, env });
  t.regex(query.stdout, /host=web-1 upstream timeout$/m);

  const tail = spawn('tributary', ['tail', 'app', '-n', '1', '--output', 'raw'], {
    cwd: elsewhere,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => tail.kill('SIGKILL'));
  let out = '';
  tail.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 60_000;
  while (!out.includes('upstream timeout') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  tail.kill('SIGINT');
  await once(tail, 'exit');
  t.is(out.trim(), 'upstream timeout');
});
