/**
 * console - live tail with a real agent: a line appended to a file the agent tails shows in the page within 2 s;
 * lines that arrive while paused are all shown on resume; the rate readout moves; the cap on kept lines holds.
 */
import { appendFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { startAgentProcess, tempDir, waitFor, writeAgentConfig } from '../agent/support.ts';
import { CollectorProcess } from '../helpers/collector-process.ts';
import { BROWSERS } from './browsers.ts';
import { ensureConsoleBuilt, openBrowser, produce } from './support.ts';

/** The text of every row of the virtualised list, scrolling it from top to bottom. */
async function allRows(page: Page): Promise<string[]> {
  const seen = new Map<number, string>();
  const list = page.locator('.vlist');
  for (;;) {
    const rows = await page
      .locator('.vrow')
      .evaluateAll((els) =>
        els.map((el) => [Number(el.getAttribute('data-index')), el.querySelector('.text')?.textContent ?? ''] as const),
      );
    for (const [i, text] of rows) seen.set(i, text);
    const done = await list.evaluate((el) => el.scrollTop + el.clientHeight >= el.scrollHeight - 1);
    if (done) break;
    await list.evaluate((el) => el.scrollBy(0, el.clientHeight));
    await page.waitForTimeout(100);
  }
  await list.evaluate((el) => el.scrollTo(0, 0));
  return [...seen].sort((a, b) => a[0] - b[0]).map(([, text]) => text);
}

for (const { engine, runner, suffix } of BROWSERS) {
  runner.test(
    `console - live tail shows appended lines within 2 s, and pause/resume loses nothing${suffix}`,
    async (t) => {
      t.timeout(240_000);
      await ensureConsoleBuilt();
      const collector = await CollectorProcess.start();
      const dir = await tempDir('tributary-console-live-');
      const logFile = path.join(dir, 'app.log');
      await writeFile(logFile, 'first line before the page\n');
      const agent = await startAgentProcess(
        await writeAgentConfig({
          dir,
          collectorUrl: collector.url,
          sources: [{ name: 'app', include: [path.join(dir, '*.log')], topic: 'logs', service: 'shop' }],
        }),
      );
      const browser = await openBrowser(collector.url, engine);
      t.teardown(async () => {
        await browser.close();
        await agent.kill();
        await collector.dispose();
      });
      await waitFor('the topic', async () => (await fetch(`${collector.url}/v1/topics/logs`)).ok || undefined, 60_000);

      const { page } = browser;
      await page.goto(`${collector.url}/ui/live?topic=logs&q=${encodeURIComponent('service="shop"')}`);
      await page.getByTestId('following').waitFor();

      // One line: in the page within 2 s of being appended to the file.
      const marker = `checkout failed for order ${Date.now()}`;
      const appended = Date.now();
      await appendFile(logFile, `${marker}\n`);
      await page.locator('.line .text', { hasText: marker }).waitFor({ timeout: 10_000 });
      const latency = Date.now() - appended;
      t.log(`file append → line drawn: ${latency} ms`);
      t.true(latency < 2000, `shown after ${latency} ms`);
      t.is(await page.locator('.line .text').count(), 1, 'only lines appended since the page opened');

      // Pause: lines keep arriving but are not drawn; resume draws every one of them.
      await page.getByRole('button', { name: 'Pause' }).click();
      const burst = Array.from({ length: 40 }, (_, i) => `paused line ${i}`);
      await appendFile(logFile, `${burst.join('\n')}\n`);
      await page.getByTestId('pending').filter({ hasText: /^40$/ }).waitFor({ timeout: 15_000 });
      t.is(await page.locator('.line .text').count(), 1, 'nothing drawn while paused');
      // Polled from here: a string predicate would be eval'd in the page, which its CSP (no unsafe-eval) forbids.
      for (const until = Date.now() + 15_000; Number(await page.getByTestId('rate').textContent()) <= 0; ) {
        if (Date.now() > until) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      t.true(Number(await page.getByTestId('rate').textContent()) > 0, 'the rate readout counts the arrivals');
      await browser.screenshot('live-paused');
      await page.getByRole('button', { name: 'Resume' }).click();
      await page.getByTestId('kept').filter({ hasText: /^41$/ }).waitFor();
      const shown = await allRows(page);
      t.deepEqual(shown, [...burst].reverse().concat(marker), 'every line, newest first, none lost');
      await browser.screenshot('live');

      // The cap: with 1,000 lines kept, 1,500 more leave the newest 1,000.
      await page.getByLabel('lines kept').selectOption('1000');
      await produce(
        collector.url,
        'logs',
        Array.from({ length: 1500 }, (_, i) => ({ key: 'bulk', value: `bulk ${i}`, labels: { service: 'shop' } })),
      );
      await page
        .getByTestId('kept')
        .filter({ hasText: /^1,000$/ })
        .waitFor({ timeout: 15_000 });
      await page.getByTestId('status').filter({ hasText: '541 older lines dropped' }).waitFor();
      t.is(await page.locator('.line .text').first().textContent(), 'bulk 1499');
      t.deepEqual(browser.pageErrors, []);
    },
  );
}
