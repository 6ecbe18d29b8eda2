import { spawn } from 'node:child_process';
import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { freePort } from '../helpers/ports.ts';
import { CLI, fetchAll, REPO, tempDir, waitFor } from './support.ts';

test('tributary up - a collector and an agent in one process: a line appended to the demo log can be fetched', async (t) => {
  const dir = await tempDir('tributary-up-');
  const [port, metricsPort] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [CLI, 'up', '--dir', dir, '--port', String(port), '--metrics-port', String(metricsPort)],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitFor('the banner', () => out.includes('Tributary is up'), 60_000).catch((error: Error) => {
      throw new Error(`${error.message}; output so far:\n${out}`);
    });
    const url = `http://127.0.0.1:${port}`;
    t.true(out.includes(`${url}/metrics`), 'the banner says where the metrics are');
    t.true(out.includes('echo '), 'the banner says how to write a line');
    const demoLog = path.join(dir, 'demo-logs', 'demo.log');
    await appendFile(demoLog, 'hello from the up test\n');
    const records = await waitFor('the line in the collector', async () => {
      const got = await fetchAll(url, 'demo');
      return got.some((r) => r.value.toString() === 'hello from the up test') ? got : undefined;
    });
    t.true(
      records.some((r) => /demo line \d+ from tributary up/.test(r.value.toString())),
      'demo lines flow too',
    );
    const agentMetrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    t.regex(agentMetrics, /tributary_agent_lines_acknowledged_total [1-9]/);
    child.kill('SIGINT');
    t.is(await exited, 0);
  } finally {
    child.kill('SIGKILL');
  }
});
