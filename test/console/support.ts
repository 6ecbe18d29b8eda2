/**
 * What the console's browser tests share: Debian's chromium and Firefox ESR driven by playwright-core (never a
 * downloaded browser), a build of the console that matches the sources, a real collector process with records
 * produced through its HTTP API, and a folder for screenshots.
 *
 * Firefox is Debian's stock firefox-esr over WebDriver BiDi (playwright's `moz-firefox` channel), not playwright's
 * patched build. playwright-core is pinned to 1.64: 1.65 sends a BiDi command (emulation.setMediaFeaturesOverride)
 * that Firefox ESR 153 does not know, and every new page fails.
 *
 * No ava here: the console benchmark (bench/console.bench.ts) opens its browser with this module too. Which tests
 * run in which browser is browsers.ts.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, rmdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type BrowserContext, chromium, firefox, type Page } from 'playwright-core';
import { REPO_ROOT, sleep } from '../helpers/collector-process.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

export const FIREFOX = '/usr/bin/firefox-esr';

export type BrowserEngine = 'chromium' | 'firefox';

/** Screenshots of every page the tests visit (git-ignored; CI keeps it as the tests' output). */
export const OUTPUT_DIR = process.env.TRIBUTARY_TEST_OUTPUT ?? path.join(REPO_ROOT, 'test-results', 'console');

const CONSOLE_SOURCES = path.join(REPO_ROOT, 'collector/console/web');
const BUILT_INDEX = path.join(REPO_ROOT, 'dist/console/index.html');

async function newestSourceMtime(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? await newestSourceMtime(file) : (await stat(file)).mtimeMs);
  }
  return newest;
}

/**
 * Builds the console (npm run build:console) unless dist/console is newer than every source. Test files run in
 * parallel processes, so the build is guarded by a lock folder.
 */
export async function ensureConsoleBuilt(): Promise<void> {
  const lock = path.join(REPO_ROOT, 'dist', '.console-build.lock');
  await mkdir(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`the console build lock ${lock} was held for 3 minutes`);
      await sleep(250);
    }
  }
  try {
    const built = existsSync(BUILT_INDEX) ? (await stat(BUILT_INDEX)).mtimeMs : 0;
    const sources = Math.max(
      await newestSourceMtime(CONSOLE_SOURCES),
      (await stat(path.join(REPO_ROOT, 'collector/console/vite.config.ts'))).mtimeMs,
    );
    if (built < sources) {
      await promisify(execFile)('npm', ['run', 'build:console'], { cwd: REPO_ROOT, timeout: 170_000 });
    }
  } finally {
    await rmdir(lock);
  }
}

export interface Browser {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Requests the page made to anywhere but the collector (must stay empty). */
  readonly foreignRequests: string[];
  /** Errors the page's scripts threw or logged. */
  readonly pageErrors: string[];
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

/** A fresh headless browser (own profile) with one page, for a collector at `origin`. */
export async function openBrowser(origin: string, engine: BrowserEngine = 'chromium'): Promise<Browser> {
  const profile = await mkdtemp(path.join(os.tmpdir(), `tributary-${engine}-`));
  const common = { headless: true, viewport: { width: 1280, height: 800 }, timeout: 60_000 };
  const context =
    engine === 'chromium'
      ? await chromium.launchPersistentContext(profile, { ...common, executablePath: CHROMIUM, args: CHROMIUM_ARGS })
      : await firefox.launchPersistentContext(profile, { ...common, executablePath: FIREFOX, channel: 'moz-firefox' });
  context.setDefaultTimeout(20_000);
  const page = context.pages()[0] ?? (await context.newPage());
  const foreignRequests: string[] = [];
  const pageErrors: string[] = [];
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith('data:')) foreignRequests.push(url);
  });
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  await mkdir(OUTPUT_DIR, { recursive: true });
  return {
    context,
    page,
    foreignRequests,
    pageErrors,
    async screenshot(name) {
      const file = path.join(OUTPUT_DIR, engine === 'chromium' ? `${name}.png` : `${name}-${engine}.png`);
      await page.screenshot({ path: file });
      return file;
    },
    async close() {
      await context.close().catch(() => {});
      await rm(profile, { recursive: true, force: true });
    },
  };
}

export interface ProducedRecord {
  readonly key: string;
  readonly value: string;
  readonly timestamp?: number;
  readonly labels?: Record<string, string>;
}

/** Produces records through the NDJSON produce route (as a script would). */
export async function produce(
  url: string,
  topic: string,
  records: readonly ProducedRecord[],
  token?: string,
): Promise<void> {
  const response = await fetch(`${url}/v1/topics/${topic}/records`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-ndjson',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: records.map((r) => JSON.stringify(r)).join('\n') + '\n',
  });
  if (!response.ok) throw new Error(`produce answered ${response.status}: ${await response.text()}`);
}

export async function api<T>(url: string, pathAndQuery: string, token?: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(`${url}${pathAndQuery}`, {
    ...init,
    headers: {
      ...(init.body ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
  });
  if (!response.ok) throw new Error(`${pathAndQuery} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as T;
}
