/**
 * Which browsers the console's tests run in: each test once per entry of BROWSERS. Under CI=true a missing
 * browser is a failure; elsewhere the tests are skipped with the reason. Kept apart from support.ts, which the
 * console benchmark imports, and which therefore must not import ava.
 */
import { existsSync } from 'node:fs';
import type { ExecutionContext } from 'ava';
import { CollectorProcess, type CollectorProcessOptions } from '../helpers/collector-process.ts';
import { needs } from '../helpers/requirement.ts';
import { type Browser, type BrowserEngine, CHROMIUM, ensureConsoleBuilt, FIREFOX, openBrowser } from './support.ts';

/** Tests that drive chromium: they fail under CI=true without Debian's chromium, and skip elsewhere. */
export const withChromium = needs(
  existsSync(CHROMIUM) ? true : undefined,
  `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium, as .ci/run does)`,
);

/** Tests that drive Firefox: they fail under CI=true without Debian's firefox-esr, and skip elsewhere. */
export const withFirefox = needs(
  existsSync(FIREFOX) ? true : undefined,
  `${FIREFOX} is missing: install Debian's Firefox ESR (apt-get install -y firefox-esr, as .ci/run does)`,
);

/**
 * Every browser test runs once in each engine ("Works in current Chromium and Firefox"); the Firefox run's title
 * says so.
 */
export const BROWSERS = [
  { engine: 'chromium', runner: withChromium, suffix: '' },
  { engine: 'firefox', runner: withFirefox, suffix: ' (Firefox)' },
] as const;

/**
 * What every console test starts with: the console built, a collector process, and `engine` open on it; all of
 * it stopped when the test ends.
 */
export async function openConsole(
  t: ExecutionContext,
  engine: BrowserEngine,
  options: CollectorProcessOptions = {},
): Promise<{ collector: CollectorProcess; browser: Browser }> {
  await ensureConsoleBuilt();
  const collector = await CollectorProcess.start(options);
  const browser = await openBrowser(collector.url, engine);
  t.teardown(async () => {
    await browser.close();
    await collector.dispose();
  });
  return { collector, browser };
}
