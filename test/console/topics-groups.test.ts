/**
 * console - the topics page (partitions, offsets, sizes, retention, produce rate) and the consumer groups page
 * (members, generation, committed offset, end offset, lag), refreshed live: a commit by a consumer changes the lag
 * shown without reloading.
 */
import { BROWSERS, openConsole } from './browsers.ts';
import { api, produce } from './support.ts';

interface Join {
  member_id: string;
  generation_id: number;
  assignment: { topic: string; partition: number }[];
}

for (const { engine, runner, suffix } of BROWSERS) {
  runner.test(
    `console - topics and consumer groups pages, with a lag that changes when a consumer commits${suffix}`,
    async (t) => {
      t.timeout(240_000);
      const { collector, browser } = await openConsole(t, engine);
      const url = collector.url;
      await api(url, '/v1/topics', undefined, {
        method: 'POST',
        body: JSON.stringify({ name: 'orders', partitions: 2, retention_ms: 86_400_000 }),
      });
      const batch = (n: number, from: number) =>
        Array.from({ length: n }, (_, i) => ({ key: `k${(from + i) % 2}`, value: `order ${from + i}` }));
      await produce(url, 'orders', batch(100, 0));
      const described = await api<{ partitions: { partition: number; end_offset: number }[] }>(
        url,
        '/v1/topics/orders',
      );
      const ends = described.partitions.map((p) => p.end_offset);
      t.is(
        ends.reduce((a, b) => a + b, 0),
        100,
      );

      // Topics: every partition with its offsets; the produce rate moves while records arrive.
      const { page } = browser;
      await page.goto(`${url}/ui/topics`);
      const card = page.locator('[data-topic="orders"]');
      await card.waitFor();
      t.regex((await card.locator('header').textContent()) ?? '', /2 partitions · 100 records .* retention 1d/);
      const rows = await card.locator('tbody tr').allTextContents();
      t.is(rows.length, 2);
      for (const p of described.partitions) t.true(rows.some((r) => r.startsWith(`${p.partition}0${p.end_offset}`)));
      const producing = setInterval(() => void produce(url, 'orders', batch(50, 1000)).catch(() => {}), 300);
      try {
        // "12/s" or "3.5/s", not "0.0/s" or "…"
        await card
          .getByTestId('rate')
          .filter({ hasText: /^([1-9]|0\.[1-9])/ })
          .waitFor({ timeout: 20_000 });
      } finally {
        clearInterval(producing);
      }
      await browser.screenshot('topics');

      // Groups: a member joins and commits part of partition 0; the page shows it, then the lag drops on a commit.
      const join = await api<Join>(url, '/v1/groups/billing/members', undefined, {
        method: 'POST',
        body: JSON.stringify({ topics: ['orders'], client_id: 'billing-worker-1' }),
      });
      const commit = (offsets: { partition: number; offset: number }[]) =>
        api(url, '/v1/groups/billing/offsets', undefined, {
          method: 'POST',
          body: JSON.stringify({
            offsets: offsets.map((o) => ({ topic: 'orders', ...o })),
            member_id: join.member_id,
            generation_id: join.generation_id,
          }),
        });
      const heartbeat = setInterval(
        () =>
          void api(url, `/v1/groups/billing/members/${join.member_id}/heartbeat`, undefined, {
            method: 'POST',
            body: JSON.stringify({ generation_id: join.generation_id }),
          }).catch(() => {}),
        1000,
      );
      t.teardown(() => clearInterval(heartbeat));
      await commit([
        { partition: 0, offset: 10 },
        { partition: 1, offset: 0 },
      ]);
      const lagOf = async (partition: number) =>
        (await api<{ offsets: { partition: number; lag: number }[] }>(url, '/v1/groups/billing/offsets')).offsets.find(
          (o) => o.partition === partition,
        )!.lag;
      const lag0 = await lagOf(0);
      await page.getByRole('button', { name: 'Consumer groups' }).click();
      const group = page.locator('[data-group="billing"]');
      const lagCell = group.locator('[data-partition="orders/0"] [data-testid=lag]');
      await lagCell.filter({ hasText: new RegExp(`^${lag0.toLocaleString('en-US')}$`) }).waitFor();
      t.regex((await group.locator('header').textContent()) ?? '', /generation 1 · 1 members/);
      t.is(await group.locator('table.members td', { hasText: 'billing-worker-1' }).count(), 1);
      await browser.screenshot('groups');

      await commit([{ partition: 0, offset: 30 }]);
      const after = await lagOf(0);
      t.is(after, lag0 - 20);
      await lagCell.filter({ hasText: new RegExp(`^${after.toLocaleString('en-US')}$`) }).waitFor({ timeout: 10_000 });
      t.pass(`the lag shown went from ${lag0} to ${after} without a reload`);
      t.deepEqual(browser.pageErrors, []);
    },
  );
}
