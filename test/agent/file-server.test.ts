/**
 * The file server against real files, without discovery: what it must find out by itself. A rename rotation
 * looked at between its two steps (renamed away, not yet re-created) first shows the path as gone; the new file at
 * the path may then be reported by chokidar only as a `change` (its atomic mode folds an unlink and an add within
 * 100 ms into one change), never as an appearance.
 */
import { appendFile, copyFile, readFile, rename, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { FileServer, type ServedFile } from '../../agent/read/file-server.ts';
import type { RotationKind } from '../../agent/metrics.ts';
import { fileKeyOf } from '../../agent/read/fingerprint.ts';
import { tempDir, waitFor } from './support.ts';

/** A file server on real files, stopped when the test ends. */
function startServer(
  t: ExecutionContext,
  paused: () => boolean = () => false,
): {
  server: FileServer;
  lines: string[];
  rotations: RotationKind[];
} {
  const lines: string[] = [];
  const rotations: RotationKind[] = [];
  const server = new FileServer({
    pollIntervalMs: 20,
    rotateWaitMs: 2_000,
    retryOpenMs: 1_000,
    chunkBytes: 64 * 1024,
    maxBytesPerTurn: 1024 * 1024,
    maxLineBytesOf: () => 64 * 1024,
    copiesOutsideGlobs: true,
    paused,
    whenUnpaused: () => Promise.resolve(),
    sink: {
      startAt: () => ({ kind: 'beginning' }),
      opened: () => {},
      lines: () => (value) => lines.push(value.toString('utf8')),
      read: () => {},
      truncated: () => {},
      restarted: () => {},
      rotation: (kind: RotationKind, _file: ServedFile) => rotations.push(kind),
      drained: () => {},
      closed: () => {},
      fileError: () => {},
    },
  });
  server.start();
  t.teardown(async () => {
    await server.stop();
    await server.close();
  });
  return { server, lines, rotations };
}

/** Serves `file` (a path of the globs) and waits for its first `count` lines. */
async function readFirstLines(server: FileServer, lines: readonly string[], file: string, count = 2): Promise<void> {
  server.appeared(file, 0);
  server.endInitialScan();
  await waitFor('the first lines', () => lines.length === count, 10_000, 20);
}

test('file server - a file re-created at a path it had seen empty is opened, without an appearance from discovery', async (t) => {
  const dir = await tempDir();
  const file = path.join(dir, 'app.log');
  await writeFile(file, 'before 1\nbefore 2\n');
  const { server, lines, rotations } = startServer(t);
  await readFirstLines(server, lines, file);

  // Step one of a rename rotation, and a few polls that see the path empty.
  await rename(file, `${file}.1`);
  await new Promise((r) => setTimeout(r, 200));
  // Step two: the new file. Discovery says only "changed", as chokidar does for a quick unlink + add.
  await writeFile(file, 'after 1\n');
  server.changed(file, 0);
  await appendFile(file, 'after 2\n');
  await waitFor('the lines of the re-created file', () => lines.length === 4, 10_000, 20);
  t.deepEqual(lines, ['before 1', 'before 2', 'after 1', 'after 2']);
  t.deepEqual(rotations, ['rename']);
});

test('file server - rotated name in the globs: the reader follows its file, and the new file at the old name is opened though discovery never reports it', async (t) => {
  // The soak's `create/b.log: 153 lines lost`: the reader moved to b.log.1 when discovery reported it, so no reader
  // looked at b.log any more, and chokidar folded the new b.log into a change it had already reported (or into
  // nothing). The path stays one of the globs' until discovery says it is gone.
  const dir = await tempDir();
  const file = path.join(dir, 'app.log');
  await writeFile(file, 'before 1\nbefore 2\n');
  const { server, lines } = startServer(t);
  await readFirstLines(server, lines, file);

  await rename(file, `${file}.1`);
  server.appeared(`${file}.1`, 0); // the same inode under its rotated name: the reader follows it
  await new Promise((r) => setTimeout(r, 200));
  await appendFile(`${file}.1`, 'late 3\n');
  await writeFile(file, 'after 1\n'); // no event at all for the new file
  await waitFor('the lines of the new file', () => lines.length === 4, 10_000, 20);
  t.deepEqual(lines.slice(0, 2), ['before 1', 'before 2']);
  t.deepEqual(new Set(lines.slice(2)), new Set(['late 3', 'after 1']));
});

test('file server - copytruncate: the copy (a name no glob matches) is read from where the original stopped, before the truncated file, nothing twice', async (t) => {
  const dir = await tempDir();
  const file = path.join(dir, 'app.log');
  const line = (n: number) => `line ${n} ${'c'.repeat(300)}`; // the first 256 bytes name the file's first line
  await writeFile(file, `${line(1)}\n${line(2)}\n`);
  let paused = false;
  const { server, lines, rotations } = startServer(t, () => paused);
  await readFirstLines(server, lines, file);
  // Reading pauses (the collector is away): lines 3 and 4 are written but not read when logrotate copies and
  // truncates; line 5 goes into the truncated file.
  paused = true;
  await appendFile(file, `${line(3)}\n${line(4)}\n`);
  await copyFile(file, `${file}.1`);
  await truncate(file, 0);
  await appendFile(file, `${line(5)}\n`);
  await new Promise((r) => setTimeout(r, 300));
  paused = false;
  await waitFor('every line', () => lines.length >= 5, 10_000, 20);
  await new Promise((r) => setTimeout(r, 300));
  t.deepEqual(
    lines.map((l) => l.split(' ').slice(0, 2).join(' ')),
    ['line 1', 'line 2', 'line 3', 'line 4', 'line 5'],
  );
  t.true(rotations.includes('copytruncate'));
});

test('file server - a copy in the globs seen while logrotate still writes it is read from where the original stopped, not twice', async (t) => {
  // The matrix's copytruncate/app.log+app.log.*/kill:none cell under CI load: discovery reported app.log.1 while
  // logrotate had written fewer than the 256 bytes that identify a copy, so it was read as a new file, from 0, and
  // every line of it arrived twice (1,326 duplicates).
  const dir = await tempDir();
  const file = path.join(dir, 'app.log');
  const copy = `${file}.1`;
  const line = (n: number) => `line ${n} ${'c'.repeat(300)}`;
  await writeFile(file, `${line(1)}\n${line(2)}\n`);
  const { server, lines, rotations } = startServer(t);
  await readFirstLines(server, lines, file);

  // The copy as discovery first sees it: empty, then its first 100 bytes; a few polls look at it each time.
  const content = await readFile(file);
  await writeFile(copy, '');
  server.appeared(copy, 0);
  await new Promise((r) => setTimeout(r, 150));
  await writeFile(copy, content.subarray(0, 100));
  await new Promise((r) => setTimeout(r, 150));
  // logrotate finishes the copy and truncates; the application writes on.
  await writeFile(copy, content);
  await truncate(file, 0);
  await appendFile(file, `${line(3)}\n`);
  await waitFor('line 3', () => lines.some((l) => l.startsWith('line 3 ')), 10_000, 20);
  await new Promise((r) => setTimeout(r, 500));
  t.deepEqual(
    lines.map((l) => l.split(' ').slice(0, 2).join(' ')),
    ['line 1', 'line 2', 'line 3'],
  );
  t.true(rotations.includes('copytruncate'));
});

test('file server - a file found at a rotated name and renamed again before it is opened is read by its identity, not the file now at that name', async (t) => {
  // The matrix's `create/app.log/kill:agent` lost a whole rotated file: after a restart the agent found it at
  // app.log.1, logrotate renamed it to app.log.2 (and app.log to app.log.1) before the server opened it, and the
  // server opened app.log.1 — the other file — from the beginning.
  const dir = await tempDir();
  const found = path.join(dir, 'app.log.1');
  await writeFile(found, 'found 1\nfound 2\n');
  const key = fileKeyOf(await stat(found));
  // The rotation between the search (which saw the file at app.log.1) and the open.
  await rename(found, path.join(dir, 'app.log.2'));
  await writeFile(found, 'newer 1\n');
  const { server, lines } = startServer(t);
  server.adopt(found, 0, { key, start: { kind: 'beginning' }, keyPath: path.join(dir, 'app.log'), drain: true });
  await waitFor('the lines of the file found', () => lines.length >= 2, 10_000, 20);
  await new Promise((r) => setTimeout(r, 300));
  t.deepEqual(lines, ['found 1', 'found 2']);
});
