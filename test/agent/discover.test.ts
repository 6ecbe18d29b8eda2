import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { type DiscoveryEvent, FileDiscovery, watchRootOf } from '../../agent/discover/file-discovery.ts';
import { tempDir, waitFor } from './support.ts';

test('discovery - the directory to watch and its depth for a glob', (t) => {
  t.deepEqual(watchRootOf('/var/log/*.log'), { dir: '/var/log', depth: 0 });
  t.deepEqual(watchRootOf('/var/log/app/*/x.log'), { dir: '/var/log/app', depth: 1 });
  t.deepEqual(watchRootOf('/var/log/**/x.log'), { dir: '/var/log', depth: undefined });
  t.deepEqual(watchRootOf('/var/log/syslog'), { dir: '/var/log', depth: 0 });
});

for (const poll of [false, true]) {
  test(`discovery - files present and created later, include/exclude, removal (${poll ? 'polling' : 'inotify'})`, async (t) => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'a/b'), { recursive: true });
    await writeFile(path.join(dir, 'one.log'), 'x\n');
    await writeFile(path.join(dir, 'one.txt'), 'x\n');
    const events: [DiscoveryEvent, string, number][] = [];
    const discovery = new FileDiscovery({
      sources: [
        { include: [`${dir}/*.log`], exclude: [`${dir}/skip*`] },
        { include: [`${dir}/**/deep.log`], exclude: [] },
      ],
      poll,
      pollIntervalMs: 50,
      onEvent: (e, p, i) => events.push([e, path.relative(dir, p), i]),
      onError: (e) => t.fail(e.message),
    });
    await discovery.start();
    t.deepEqual(events, [['appeared', 'one.log', 0]], 'present at start');
    await writeFile(path.join(dir, 'two.log'), 'x\n');
    await writeFile(path.join(dir, 'skip.log'), 'x\n');
    await writeFile(path.join(dir, 'a/b/deep.log'), 'x\n');
    await waitFor(
      'later files',
      () => events.some((e) => e[1] === 'two.log') && events.some((e) => e[1] === 'a/b/deep.log'),
      10_000,
    );
    t.true(events.some((e) => e[0] === 'appeared' && e[1] === 'a/b/deep.log' && e[2] === 1));
    await rm(path.join(dir, 'two.log'));
    await waitFor('removal', () => events.some((e) => e[0] === 'removed' && e[1] === 'two.log'), 10_000);
    t.false(
      events.some((e) => e[1] === 'skip.log' || e[1] === 'one.txt'),
      'excluded and unmatched files are never reported',
    );
    await discovery.close();
  });
}
