/**
 * deploy - the npm package as users get it: `npm pack`'s tarball holds the compiled JavaScript and no tests,
 * benchmarks or CI files; installed offline (dependencies from the npm cache) into an
 * empty project, its `tributary` command runs and `tributary/client` imports, with no tsx anywhere, and its type
 * declarations type-check a TypeScript program that uses it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { REPO_ROOT } from '../helpers/collector-process.ts';

interface LockEntry {
  readonly dev?: boolean;
  readonly [key: string]: unknown;
}

/**
 * An empty project depending on the tarball, with a lock file: the tarball's entry, and the production entries of
 * this repository's package-lock.json (the same versions at the same paths). `npm ci --offline` then installs
 * from the npm cache alone; `npm install <tarball> --offline` cannot, as it needs each dependency's registry
 * metadata, which `npm ci` does not cache.
 */
async function writeConsumerProject(project: string): Promise<void> {
  const lock = JSON.parse(await readFile(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const own = lock.packages['']!;
  // Our `overrides` (cookie 1.x: cookie 2 needs Node 22) apply only at a project's root, so a project that depends
  // on Tributary states them too (docs/decisions.md); without them its lock cannot match the cached versions.
  const { overrides } = JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
    overrides?: Record<string, string>;
  };
  const spec = `file:${path.relative(project, tarball)}`;
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', dependencies: { tributary: spec } },
    'node_modules/tributary': {
      version: own.version,
      resolved: spec,
      dependencies: own.dependencies,
      bin: own.bin,
      engines: own.engines,
    },
  };
  for (const [where, entry] of Object.entries(lock.packages)) {
    if (where.startsWith('node_modules/') && !entry.dev) packages[where] = entry;
  }
  await writeFile(
    path.join(project, 'package.json'),
    JSON.stringify(
      { name: 'consumer', private: true, type: 'module', dependencies: { tributary: spec }, overrides },
      null,
      2,
    ),
  );
  await writeFile(
    path.join(project, 'package-lock.json'),
    JSON.stringify({ name: 'consumer', lockfileVersion: 3, requires: true, packages }, null, 2),
  );
}

let work: string;
let tarball: string;

test.before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'tributary-package-'));
  // dist/ is built by `npm test` (and `npm run build`); --ignore-scripts packs it as it is.
  const r = spawnSync('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', work, REPO_ROOT], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`npm pack failed: ${r.stderr}`);
  tarball = path.join(work, r.stdout.trim().split('\n').at(-1)!);
});

test.after.always(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

test.serial('package - the tarball ships dist/ with declarations, and no sources, tests, benchmarks or CI', (t) => {
  const list = spawnSync('tar', ['-tzf', tarball], { encoding: 'utf8' });
  t.is(list.status, 0, list.stderr);
  const files = list.stdout.split('\n').filter(Boolean);
  for (const needed of [
    'package/package.json',
    'package/dist/shared/cli/tributary.js',
    'package/dist/shared/client/index.js',
    'package/dist/shared/client/index.d.ts',
    'package/deploy/systemd/tributary-agent.service',
  ]) {
    t.true(files.includes(needed), `${needed} is in the tarball`);
  }
  const unwanted = files.filter((f) =>
    /^package\/(test|bench|\.ci|agent|collector|shared|node_modules)\/|^package\/tsconfig/.test(f),
  );
  t.deepEqual(unwanted, [], 'nothing but dist/, deploy/, docs/ and the top-level files');
});

test.serial(
  'package - installed offline into an empty project: tributary --help runs, tributary/client imports and type-checks without tsx',
  async (t) => {
    t.timeout(300_000);
    const project = path.join(work, 'consumer');
    await mkdir(project);
    await writeConsumerProject(project);
    const install = spawnSync('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: project,
      encoding: 'utf8',
      timeout: 240_000,
    });
    t.is(install.status, 0, `npm ci --offline failed (is the npm cache filled by npm ci?): ${install.stderr}`);
    t.false(existsSync(path.join(project, 'node_modules/tsx')), 'tsx is not installed with the package');

    const bin = path.join(project, 'node_modules/.bin/tributary');
    const help = spawnSync(bin, ['--help'], { cwd: project, encoding: 'utf8', timeout: 60_000 });
    t.is(help.status, 0, help.stderr);
    t.regex(help.stdout, /Usage: tributary <command>/);
    const version = spawnSync(bin, ['--version'], { cwd: project, encoding: 'utf8', timeout: 60_000 });
    t.is(version.stdout.trim(), '0.1.0');

    const program = [
      "import { CollectorClient, Consumer, Producer, TopicNotFoundError } from 'tributary/client';",
      'const client = new CollectorClient({ urls: ["http://127.0.0.1:1"] });',
      "console.log(JSON.stringify({ types: [typeof Consumer, typeof Producer, typeof client.listTopics], code: new TopicNotFoundError('t').code }));",
    ].join('\n');
    await writeFile(path.join(project, 'use-client.mjs'), program);
    const run = spawnSync(process.execPath, ['use-client.mjs'], { cwd: project, encoding: 'utf8', timeout: 60_000 });
    t.is(run.status, 0, run.stderr);
    t.deepEqual(JSON.parse(run.stdout), {
      types: ['function', 'function', 'function'],
      code: 'topic_not_found',
    });

    // The declarations: a TypeScript program using the client type-checks against the installed package.
    await writeFile(
      path.join(project, 'use-client.ts'),
      [
        "import { Consumer, type ConsumedRecord, TributaryError } from 'tributary/client';",
        'export function handle(record: ConsumedRecord): string {',
        "  return record.topic + '/' + record.partition + '@' + record.offset + ': ' + record.value.toString();",
        '}',
        'export const isError = (e: unknown): boolean => e instanceof TributaryError;',
        'export type C = typeof Consumer;',
      ].join('\n'),
    );
    await writeFile(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2023',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [path.join(REPO_ROOT, 'node_modules/@types')],
        },
        files: ['use-client.ts'],
      }),
    );
    const tsgo = path.join(REPO_ROOT, 'node_modules/.bin/tsgo');
    const check = spawnSync(tsgo, ['-p', 'tsconfig.json'], { cwd: project, encoding: 'utf8', timeout: 120_000 });
    t.is(check.status, 0, check.stdout + check.stderr);
  },
);
