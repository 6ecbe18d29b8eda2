/**
 * The web console in headless chromium (Debian's, driven by playwright-core) against a collector process serving
 * the query benchmark's topic: 1 GiB (quick: 128 MiB) of 200-byte lines over the last 24 hours in 4 partitions.
 *   Enter -> first lines drawn, last 5 minutes      ms, measured in the page (performance.measure), target < 300
 *   scrolling through 100,000 loaded lines          longest frame while scrolling, ms
 *   live tail at 5,000 lines/s                      longest frame in the page, ms, target < 100
 *   the page's own JavaScript                       KiB gzipped, target < 200
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { FileLogStore } from '../collector/storage/file/index.ts';
import { BatchBuilder } from '../shared/batch-codec.ts';
import { CollectorProcess, REPO_ROOT, sleep } from '../test/helpers/collector-process.ts';
import { ensureConsoleBuilt, openBrowser, produce } from '../test/console/support.ts';
import type { BenchRow } from './bench-row.ts';

const MiB = 1024 * 1024;
const PARTITIONS = 4;
const HOSTS = ['web-1', 'web-2', 'web-3', 'db-1'];
const LEVELS = ['info', 'info', 'info', 'warn', 'error'];

async function writeTopic(dir: string, totalBytes: number): Promise<void> {
  const store = await FileLogStore.open({ dataDir: dir, retentionCheckIntervalMs: 0 });
  await store.createTopic('logs', {
    partitions: PARTITIONS,
    segmentBytes: 128 * MiB,
    flush: { mode: 'interval', intervalMs: 1000, intervalBytes: 256 * MiB },
  });
  const batchBytes = 256 * 1024;
  const batches = Math.ceil(totalBytes / batchBytes);
  const now = Date.now();
  const span = 24 * 3600_000;
  const line = (i: number, level: string) =>
    Buffer.from(
      `${new Date(now).toISOString()} level=${level} msg="request handled" id=${i} path=/api/v1/items `.padEnd(
        199,
        '.',
      ),
    );
  for (let b = 0; b < batches; b++) {
    const host = HOSTS[b % HOSTS.length]!;
    const level = LEVELS[b % LEVELS.length]!;
    const builder = new BatchBuilder(`${host}:/var/log/app.log`, { host, service: 'api', level }, batchBytes + 4096);
    const ts = now - span + Math.floor((b / batches) * span);
    for (let i = 0; builder.recordBytes < batchBytes - 256; i++) builder.add(ts + Math.floor(i / 100), line(i, level));
    await store.appendChecked('logs', b % PARTITIONS, [builder.finish()]);
  }
  await store.close();
}

/** In the page: the longest gap between animation frames from now until `stop` is called. */
const FRAME_PROBE = `(() => {
  const probe = { max: 0, frames: 0, gaps: [], running: true, last: performance.now() };
  const tick = (t) => {
    probe.max = Math.max(probe.max, t - probe.last);
    probe.gaps.push(t - probe.last);
    probe.last = t;
    probe.frames++;
    if (probe.running) requestAnimationFrame(tick);
  };
  requestAnimationFrame((t) => { probe.last = t; requestAnimationFrame(tick); });
  window.__frameProbe = probe;
})()`;
const FRAME_RESULT = `(() => {
  const p = window.__frameProbe;
  p.running = false;
  const sorted = p.gaps.sort((a, b) => a - b);
  return { max: p.max, frames: p.frames, p95: sorted[Math.floor(sorted.length * 0.95)] ?? 0 };
})()`;

/** In the page: scroll the results from top to bottom in 150 frames. */
const SCROLL_THROUGH = `(async () => {
  const el = document.querySelector('.vlist');
  el.scrollTo(0, 0);
  for (let i = 0; i < 150; i++) {
    el.scrollTop += el.scrollHeight / 150;
    await new Promise((r) => requestAnimationFrame(r));
  }
})()`;

interface FrameResult {
  max: number;
  frames: number;
  p95: number;
}

export async function run(opts: { quick: boolean }): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const row = (c: string, metric: string, value: number, unit: string, note?: string) =>
    rows.push({ bench: 'console', case: c, metric, value, unit, ...(note ? { note } : {}) });

  await ensureConsoleBuilt();
  const assets = join(REPO_ROOT, 'dist/console/assets');
  let js = 0;
  for (const name of await readdir(assets)) {
    if (name.endsWith('.js')) js += gzipSync(await readFile(join(assets, name)), { level: 9 }).length;
  }
  row('bundle', "the page's JavaScript, gzipped", js / 1024, 'KiB', 'target < 200 KiB');

  const dir = await mkdtemp(join(tmpdir(), 'tributary-bench-console-'));
  const total = (opts.quick ? 128 : 1024) * MiB;
  let collector: CollectorProcess | undefined;
  try {
    await writeTopic(dir, total);
    collector = await CollectorProcess.start({ dataDir: dir });
    const browser = await openBrowser(collector.url);
    try {
      const { page } = browser;
      // Enter -> first lines drawn, measured by the page itself from the submit to the first rows committed.
      await page.goto(`${collector.url}/ui/search?topic=logs&range=5m`);
      await page.locator('.line').first().waitFor({ timeout: 60_000 });
      const times: number[] = [];
      for (let i = 0; i < 15; i++) {
        await page.getByLabel('text filter').press('Enter');
        await page.waitForFunction(() => performance.getEntriesByName('tributary:first-lines').length > 0, undefined, {
          timeout: 60_000,
        });
        times.push(await page.evaluate(() => performance.getEntriesByName('tributary:first-lines')[0]!.duration));
        await sleep(100);
      }
      times.sort((a, b) => a - b);
      row('search, last 5 minutes', 'Enter -> first lines drawn, median of 15', times[7]!, 'ms', 'target < 300 ms');
      row(
        'search, last 5 minutes',
        'Enter -> first lines drawn, max of 15',
        times[14]!,
        'ms',
        `${(total / MiB).toFixed(0)} MiB topic`,
      );

      // Load 100,000 lines (pages of 5,000 as the list is scrolled), then scroll through them.
      await page.goto(`${collector.url}/ui/search?topic=logs&range=24h`);
      await page.locator('.line').first().waitFor({ timeout: 60_000 });
      const list = page.locator('.vlist');
      const status = page.getByTestId('status');
      for (let i = 0; i < 40; i++) {
        const text = (await status.textContent()) ?? '';
        if (text.startsWith('100,000 lines') && !text.includes('loading')) break;
        await list.evaluate((el) => el.scrollTo(0, el.scrollHeight));
        await sleep(400);
      }
      const loaded = Number(((await status.textContent()) ?? '').split(' ')[0]!.replace(/,/g, ''));
      await page.evaluate(FRAME_PROBE);
      await page.evaluate(SCROLL_THROUGH);
      const scroll = (await page.evaluate(FRAME_RESULT)) as FrameResult;
      row(
        'results',
        'longest frame scrolling end to end',
        scroll.max,
        'ms',
        `${loaded.toLocaleString('en-US')} lines loaded`,
      );
      row('results', '95th percentile frame scrolling', scroll.p95, 'ms');

      // Live tail at 5,000 lines/s: 500 lines every 100 ms into a topic the page follows.
      await page.goto(`${collector.url}/ui/live?topic=logs`);
      await page.getByTestId('following').waitFor({ timeout: 60_000 });
      await page.evaluate(FRAME_PROBE);
      const seconds = opts.quick ? 5 : 10;
      const started = Date.now();
      // One request of 500 lines every 100 ms, not waiting for the answer (a slow answer must not lower the rate).
      let sent = 0;
      const inFlight = new Set<Promise<void>>();
      for (let tick = 0; Date.now() - started < seconds * 1000; tick++) {
        const first = tick * 500;
        const request = produce(
          collector.url,
          'logs',
          Array.from({ length: 500 }, (_, i) => ({
            key: `live-${i % 4}`,
            value: `live line ${first + i} level=info msg="tailing at speed"`,
            labels: { host: `live-${i % 4}`, level: 'info' },
          })),
        ).then(() => {
          sent += 500;
          inFlight.delete(request);
        });
        inFlight.add(request);
        await sleep(Math.max(0, started + (tick + 1) * 100 - Date.now()));
      }
      await Promise.all(inFlight);
      const rate = sent / ((Date.now() - started) / 1000);
      const elapsed = (Date.now() - started) / 1000;
      const live = (await page.evaluate(FRAME_RESULT)) as FrameResult;
      // Then wait for the page to have every line (the cap is 10,000: count what arrived through the status line).
      const shownNow = async () => Number(((await page.getByTestId('kept').textContent()) ?? '0').replace(/,/g, ''));
      const expected = Math.min(sent, 10_000);
      const drainStart = Date.now();
      while ((await shownNow()) < expected && Date.now() - drainStart < 30_000) await sleep(250);
      const kept = `${(await shownNow()).toLocaleString('en-US')} of the newest ${expected.toLocaleString('en-US')}`;
      const behind = (Date.now() - drainStart) / 1000;
      row(
        'live tail',
        'longest frame while following',
        live.max,
        'ms',
        `target < 100 ms; ${Math.round(rate)} lines/s sent`,
      );
      row('live tail', '95th percentile frame while following', live.p95, 'ms');
      row('live tail', 'frames drawn per second', live.frames / elapsed, 'fps');
      row(
        'machine',
        'load average (1 min) at the end',
        loadavg()[0]!,
        '',
        'frame times are wall time: a loaded machine stretches them',
      );
      row('live tail', 'lines shown after the last was sent', behind, 's', `${kept} shown (cap 10,000)`);
    } finally {
      await browser.close();
    }
  } finally {
    await collector?.dispose();
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}
