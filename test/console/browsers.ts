/**
 * Which browsers the console's tests run in: each test once per entry of BROWSERS. Under CI=true a missing
 * browser is a failure; elsewhere the tests are skipped with the reason. Kept apart from support.ts, which the
 * console benchmark imports, and which therefore must not import ava.
 */
import { existsSync } from 'node:fs';
import { needs } from '../helpers/requirement.ts';
import { CHROMIUM, FIREFOX } from './support.ts';

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
