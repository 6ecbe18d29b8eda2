/**
 * Disk full, end to end: the real collector with its data directory on a 4 MiB tmpfs (mounted by the test, root
 * only). A filler file placed on the same tmpfs first is the space an operator frees later. Producing until the
 * disk is full must answer 507 storage_full with a message saying what to do, make nothing partial visible, and
 * work again once space is freed; a real agent shipping meanwhile backs off and delivers every line afterwards.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, rm, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { fetchAll, startAgentProcess, tally, tempDir, waitFor, writeAgentConfig } from '../agent/support.ts';
import { call, errorOf, ndjson } from '../collector/support.ts';
import { CollectorProcess } from '../helpers/collector-process.ts';
import { endOffsets, listTree, mountTmpfs, requireTmpfs } from './support.ts';

const NDJSON = { 'content-type': 'application/x-ndjson' };
const VALUE_BYTES = 40_000;
const recordValue = (i: number, size = VALUE_BYTES) =>
  `${String(i).padStart(6, '0')}:${String.fromCharCode(97 + (i % 26)).repeat(size)}`;

(requireTmpfs('disk-full') ? test : test.skip)(
  'disk full - produce answers 507 with a clear message, nothing partial is visible, and after space is freed produce resumes and the agent delivers every line',
  async (t) => {
    const fs = await mountTmpfs('4m');
    const dataDir = path.join(fs.dir, 'data');
    const filler = path.join(fs.dir, 'filler');
    // The space to free later; written before the collector so it is really on the disk.
    await writeFile(filler, Buffer.alloc(1536 * 1024, 1));
    const collector = await CollectorProcess.start({ dataDir });
    const agentDir = await tempDir('tributary-fault-disk-agent-');
    let agent: Awaited<ReturnType<typeof startAgentProcess>> | undefined;
    t.teardown(async () => {
      await agent?.kill();
      await collector.dispose();
      await fs.dispose();
      await rm(agentDir, { recursive: true, force: true });
    });

    // The agent's topic exists before the disk fills (creating a topic on a full disk: the test below).
    const created = await call(`${collector.url}/v1/topics`, {
      method: 'POST',
      body: JSON.stringify({ name: 'agent-full', partitions: 1 }),
      headers: { 'content-type': 'application/json' },
    });
    t.is(created.status, 201, created.text);

    // 1. Produce one record per request until the disk is full: big records first, then smaller and smaller ones
    //    so that the last free pages are used up too (tmpfs counts pages: a small write may fit after a big one
    //    failed).
    const acked: string[] = [];
    let failure: Awaited<ReturnType<typeof call>> | undefined;
    for (const size of [VALUE_BYTES, 4000, 400, 40]) {
      let failed: Awaited<ReturnType<typeof call>> | undefined;
      for (let n = 0; n < 400 && failed === undefined; n++) {
        const value = recordValue(acked.length, size);
        const res = await call(`${collector.url}/v1/topics/full/records`, {
          method: 'POST',
          body: ndjson([{ key: 'k', value }]),
          headers: NDJSON,
        });
        if (res.status === 200) acked.push(value);
        else failed = res;
      }
      failure ??= failed;
    }
    t.truthy(failure, 'the 4 MiB disk never filled');
    t.true(acked.length > 5, `only ${acked.length} records fit before the disk was full`);
    t.true(failure!.status === 507 || failure!.status === 503, `status ${failure!.status}: ${failure!.text}`);
    const error = errorOf(failure!);
    t.is(error.code, failure!.status === 507 ? 'storage_full' : 'unavailable');
    t.regex(error.message, /full|space/i, 'the message says the disk is full');
    t.log(`disk full after ${acked.length} records: ${failure!.status} ${error.message}`);

    // 2. Nothing partial: the end offset and a fetch show exactly the acknowledged records. A second failing
    //    produce while full changes nothing either.
    const again = await call(`${collector.url}/v1/topics/full/records`, {
      method: 'POST',
      body: ndjson([{ key: 'k', value: recordValue(9999) }]),
      headers: NDJSON,
    });
    t.true(again.status === 507 || again.status === 503, `a produce while full: ${again.status} ${again.text}`);
    t.deepEqual(await endOffsets(collector.url, 'full'), [acked.length]);
    t.deepEqual(
      (await fetchAll(collector.url, 'full')).map((r) => r.value.toString()),
      acked,
      'fetch returns exactly the acknowledged records, in order',
    );
    t.is((await call(`${collector.url}/healthz`)).status, 200, 'the collector still serves');

    // 3. A real agent ships while the disk is full: it is answered 507, backs off and retries, losing nothing.
    const logs = path.join(agentDir, 'logs');
    await mkdir(logs);
    const config = await writeAgentConfig({
      dir: agentDir,
      collectorUrl: collector.url,
      sources: [{ include: [`${logs}/*.log`], topic: 'agent-full' }],
    });
    agent = await startAgentProcess(config);
    // Random hex: gzip cannot shrink it into the last free bytes of the disk.
    const lines = Array.from({ length: 200 }, (_v, i) => `agent line ${i} ${randomBytes(100).toString('hex')}`);
    await appendFile(path.join(logs, 'app.log'), lines.map((l) => `${l}\n`).join(''));
    await waitFor('the agent to retry against the full disk', async () => {
      return (await agent!.metric('tributary_agent_retries_total')) >= 2;
    });
    const retryLog = agent.logs.find((l) => String(l.msg).startsWith('produce failed, retrying'));
    t.truthy(retryLog, 'the agent logs why it retries');
    t.regex(String(retryLog?.msg), /50[73]/, 'the retry reason carries the collector status');
    t.is(
      (await fetchAll(collector.url, 'agent-full')).length,
      0,
      'nothing of the agent is visible while the disk is full',
    );

    // 4. Free the space: produce works again and everything acknowledged is readable.
    await unlink(filler);
    const resumed = await waitFor('produce to succeed after freeing space', async () => {
      const res = await call(`${collector.url}/v1/topics/full/records`, {
        method: 'POST',
        body: ndjson([{ key: 'k', value: recordValue(acked.length, 40) }]),
        headers: NDJSON,
      });
      return res.status === 200 ? res : undefined;
    });
    t.is(resumed.status, 200);
    acked.push(recordValue(acked.length, 40));
    t.deepEqual(
      (await fetchAll(collector.url, 'full')).map((r) => r.value.toString()),
      acked,
      'every acknowledged record reads back after the disk was full, with no gap or partial record',
    );
    const delivered = await waitFor(
      'every agent line after space was freed',
      async () => {
        const got = await fetchAll(collector.url, 'agent-full');
        return got.length >= lines.length ? got : undefined;
      },
      90_000,
      250,
    );
    const result = tally(lines, delivered);
    t.is(result.missing.length, 0, `missing: ${result.missing.slice(0, 3).join(' | ')}`);
    t.deepEqual(result.unexpected, []);
    t.log(`agent: ${lines.length} lines delivered after the disk was freed, ${result.duplicates} duplicates`);
  },
);

(requireTmpfs('disk-full') ? test : test.skip)(
  'disk full - creating or auto-creating a topic on a full disk answers 507 and leaves no topic behind; it works once space is freed',
  async (t) => {
    const fs = await mountTmpfs('2m');
    const dataDir = path.join(fs.dir, 'data');
    const filler = path.join(fs.dir, 'filler');
    await writeFile(filler, Buffer.alloc(512 * 1024, 1));
    const collector = await CollectorProcess.start({ dataDir });
    t.teardown(async () => {
      await collector.dispose();
      await fs.dispose();
    });
    // Fill every last page: another file on the same disk, grown until the disk refuses.
    const rest = path.join(fs.dir, 'rest');
    for (const size of [64 * 1024, 4096, 64]) {
      for (let n = 0; n < 10_000; n++) {
        try {
          await appendFile(rest, Buffer.alloc(size, 2));
        } catch {
          break;
        }
      }
    }
    const res = await call(`${collector.url}/v1/topics/born-full/records`, {
      method: 'POST',
      body: ndjson([{ key: 'k', value: 'v' }]),
      headers: NDJSON,
    });
    t.is(res.status, 507, res.text);
    t.is(errorOf(res).code, 'storage_full');
    t.regex(errorOf(res).message, /space/i, 'the message says the disk is full');
    const created = await call(`${collector.url}/v1/topics`, {
      method: 'POST',
      body: JSON.stringify({ name: 'made-full', partitions: 4 }),
      headers: { 'content-type': 'application/json' },
    });
    t.is(created.status, 507, `explicit creation: ${created.text}`);
    t.is(errorOf(created).code, 'storage_full');
    const listed = await call(`${collector.url}/v1/topics`);
    t.false(/born-full|made-full/.test(listed.text), `a topic was left behind: ${listed.text}`);
    // Nor on disk, where the next start would find it.
    const leftovers = (await listTree(dataDir)).filter((p) => /born-full|made-full/.test(p));
    t.deepEqual(leftovers, [], 'nothing of the topic is left in the data directory');
    await unlink(rest);
    await unlink(filler);
    const after = await call(`${collector.url}/v1/topics/born-full/records`, {
      method: 'POST',
      body: ndjson([{ key: 'k', value: 'v' }]),
      headers: NDJSON,
    });
    t.is(after.status, 200, after.text);
  },
);
