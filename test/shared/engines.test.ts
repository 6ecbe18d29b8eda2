/**
 * The package promises Node >= 20.19 (`engines`), so every dependency must allow the Node it runs on: npm with
 * --engine-strict refuses the lockfile otherwise (cookie 2, through fastify -> light-my-request, needs Node 22; the
 * `overrides` entry pins cookie 1.1, which has the same API and allows Node 18). And what uses cookie still works:
 * fastify's inject sends the cookies it is given.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import Fastify from 'fastify';
import { REPO_ROOT } from '../helpers/collector-process.ts';

const run = promisify(execFile);

test('engines - every locked dependency allows this Node (npm --engine-strict, offline)', async (t) => {
  const result = await run(
    'npm',
    ['install', '--dry-run', '--offline', '--engine-strict', '--ignore-scripts', '--no-audit', '--no-fund'],
    { cwd: REPO_ROOT, timeout: 120_000 },
  );
  t.notRegex(result.stderr, /EBADENGINE|notsup/);
});

test('engines - fastify inject still sends cookies with the overridden cookie package', async (t) => {
  const app = Fastify();
  app.get('/', async (request) => request.headers.cookie ?? '');
  const res = await app.inject({ url: '/', cookies: { a: 'b', c: 'd e' } });
  t.is(res.body, 'a=b; c=d%20e');
  await app.close();
});
