import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { FileLogStore } from '../../../collector/storage/file/index.ts';
import { ConfigError } from '../../../shared/errors.ts';

test('data dir lock - a second process is refused while the owner lives; a dead owner is taken over', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tributary-lock-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // A live process that is not us: a sleeping child.
  const owner = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => owner.kill('SIGKILL'));
  await writeFile(join(dir, '.lock'), String(owner.pid));
  await t.throwsAsync(FileLogStore.open({ dataDir: dir, retentionCheckIntervalMs: 0 }), {
    instanceOf: ConfigError,
    message: new RegExp(`in use by process ${owner.pid}`),
  });
  owner.kill('SIGKILL');
  await new Promise((resolve) => owner.once('exit', resolve));
  const store = await FileLogStore.open({ dataDir: dir, retentionCheckIntervalMs: 0 });
  t.is((await readFile(join(dir, '.lock'), 'utf8')).trim(), String(process.pid));
  await store.close();
  await t.throwsAsync(readFile(join(dir, '.lock')), { code: 'ENOENT' }, 'released on close');
});
