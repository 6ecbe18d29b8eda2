/**
 * console - serving and tokens: the collector serves the console at /ui/ (/ redirects there) with a
 * Content-Security-Policy that keeps every request on the collector; with tokens configured the page asks for one,
 * refuses a wrong one, keeps a good one in sessionStorage only (never in a URL or the collector's log), and shows
 * what the token's role does not allow as disabled.
 */
import { BROWSERS, openConsole } from './browsers.ts';
import { api, produce } from './support.ts';

const TOKENS = {
  admin: 'admin-token-5f1c0d9a7e',
  reader: 'reader-token-3b8e2f6c41',
  writer: 'writer-token-9d4a1e7b22',
};

for (const { engine, runner, suffix } of BROWSERS) {
  runner.test(
    `console - the page asks for a token, refuses a wrong one, and disables what the role cannot do${suffix}`,
    async (t) => {
      t.timeout(180_000);
      const { collector, browser } = await openConsole(t, engine, {
        config: {
          tokens: [
            { name: 'ops', token: TOKENS.admin, role: 'admin' },
            { name: 'oncall', token: TOKENS.reader, role: 'read' },
            { name: 'shipper', token: TOKENS.writer, role: 'produce' },
          ],
        },
      });
      const now = Date.now();
      await produce(
        collector.url,
        'app',
        [1, 2, 3].map((i) => ({
          key: 'web-1:/var/log/app.log',
          value: `request ${i} served`,
          timestamp: now - i * 1000,
          labels: { host: 'web-1', service: 'api', level: 'info' },
        })),
        TOKENS.admin,
      );
      await api(collector.url, '/v1/groups/billing/offsets', TOKENS.admin, {
        method: 'POST',
        body: JSON.stringify({ offsets: [{ topic: 'app', partition: 0, offset: 1 }] }),
      });

      // Assets: served with a CSP; unknown asset 404; any other path under /ui/ is the app.
      const index = await fetch(`${collector.url}/ui/topics`);
      t.is(index.status, 200);
      t.regex(index.headers.get('content-security-policy') ?? '', /default-src 'self'/);
      t.regex(await index.text(), /<div id="app">/);
      t.is((await fetch(`${collector.url}/ui/assets/nothing-here.js`)).status, 404);
      const root = await fetch(`${collector.url}/`, { redirect: 'manual' });
      t.is(root.status, 302);
      t.is(root.headers.get('location'), '/ui/');

      const { page } = browser;
      await page.goto(`${collector.url}/`);
      await page.waitForURL(/\/ui\/$/);
      const tokenInput = page.getByLabel('token');
      await tokenInput.waitFor();
      await browser.screenshot('sign-in');

      // A wrong token is refused and not kept.
      await tokenInput.fill('not-a-token-at-all');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').filter({ hasText: 'refused' }).waitFor();
      t.is(await page.evaluate("sessionStorage.getItem('tributary.token')"), null);
      await browser.screenshot('sign-in-refused');

      // The reader token: kept in sessionStorage only; the pages work; admin-only actions are disabled.
      await tokenInput.fill(TOKENS.reader);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('.line').first().waitFor();
      t.is(await page.evaluate("sessionStorage.getItem('tributary.token')"), TOKENS.reader);
      t.is(await page.evaluate('localStorage.length'), 0);
      t.false(page.url().includes(TOKENS.reader));
      t.is(await page.locator('.line').count(), 3);
      await page.getByRole('button', { name: 'Consumer groups' }).click();
      const reset = page.locator('[data-group="billing"]').getByRole('button', { name: 'Reset to latest' });
      await reset.waitFor();
      t.true(await reset.isDisabled());
      t.regex((await reset.getAttribute('title')) ?? '', /admin role/);

      // A reload keeps the tab signed in (sessionStorage), and signing out forgets the token.
      await page.reload();
      await page.locator('[data-group="billing"]').waitFor();
      await page.getByRole('button', { name: 'Sign out' }).click();
      await tokenInput.waitFor();
      t.is(await page.evaluate("sessionStorage.getItem('tributary.token')"), null);

      // The produce-only token: signed in, but every reading page is disabled with the reason.
      await tokenInput.fill(TOKENS.writer);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('status').filter({ hasText: 'role produce' }).waitFor();
      for (const name of ['Search', 'Live tail', 'Topics', 'Consumer groups']) {
        t.true(await page.getByRole('button', { name, exact: true }).isDisabled(), name);
      }
      await browser.screenshot('produce-role');

      t.deepEqual(browser.foreignRequests, []);
      t.deepEqual(
        browser.pageErrors.filter((e) => !/401/.test(e)),
        [],
      );
      for (const token of Object.values(TOKENS)) t.false(collector.logs.includes(token), 'no token in the log');
    },
  );
}
