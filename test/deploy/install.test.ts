/**
 * deploy - install.sh and the systemd units: two installs into a throwaway root give the same file tree, the
 * installed package runs, an operator's config is never overwritten, `--uninstall --purge` leaves the root as it
 * was, the units pass `systemd-analyze verify`, and the script is shellcheck-clean. No network: the package is
 * packed from this checkout once and its dependencies come from the npm cache (`--offline`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { parse } from 'yaml';
import { parseAgentConfig } from '../../agent/config.ts';
import { needs } from '../helpers/requirement.ts';
import { DEPLOY, snapshotTree, treeDiff, which } from './support.ts';

const REPO = path.dirname(DEPLOY);
const SCRIPT = path.join(DEPLOY, 'install.sh');
const isRoot = process.getuid?.() === 0;

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync('sh', [SCRIPT, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 240_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A root with the account files of a real system (and their `-` backups), so useradd --prefix works in it. */
async function makeRoot(): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tributary-install-root-'));
  if (!isRoot) return root; // useradd needs root: without it the script skips the user, as it says
  await mkdir(path.join(root, 'etc'));
  const files: Record<string, [string, number]> = {
    passwd: ['root:x:0:0:root:/root:/bin/sh\n', 0o644],
    group: ['root:x:0:\nadm:x:4:\n', 0o644],
    shadow: ['root:*:19000:0:99999:7:::\n', 0o600],
    gshadow: ['root:*::\nadm:*::\n', 0o600],
  };
  for (const [name, [content, mode]] of Object.entries(files)) {
    for (const file of [name, `${name}-`]) {
      await writeFile(path.join(root, 'etc', file), content);
      await chmod(path.join(root, 'etc', file), mode);
    }
  }
  return root;
}

let tarball: string;
let packDir: string;

test.before(async () => {
  // One tarball for every run: the working tree changes under us (others edit it), the package must not.
  packDir = await mkdtemp(path.join(os.tmpdir(), 'tributary-install-pack-'));
  const r = spawnSync('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', packDir, REPO], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`npm pack failed: ${r.stderr}`);
  tarball = path.join(packDir, r.stdout.trim().split('\n').at(-1)!);
});

test.after.always(async () => {
  await rm(packDir, { recursive: true, force: true });
});

test.serial('deploy - install.sh twice gives the same tree; --uninstall --purge leaves the root clean', async (t) => {
  t.timeout(600_000);
  const root = await makeRoot();
  try {
    // The `-` backups are the shadow tools' own (useradd/userdel rewrite them): present before and after, their
    // content not compared at the end; the account files themselves must be back to what they were.
    const notBackup = (rel: string) => !/^etc\/\w+-$/.test(rel);
    const before = await snapshotTree(root, notBackup);
    const args = ['--root', root, '--package', tarball, '--offline', '--collector-url', 'http://collector.test:7070'];

    const first = run(args);
    t.is(first.status, 0, first.out);
    const once = await snapshotTree(root);
    const second = run(args);
    t.is(second.status, 0, second.out);
    t.regex(second.out, /package unchanged/);
    const twice = await snapshotTree(root);
    t.deepEqual(treeDiff(once, twice), [], 'the second install changed the tree');

    // What is installed.
    const etc = path.join(root, 'etc/tributary');
    const agentYaml = path.join(etc, 'agent.yaml');
    const agent = parseAgentConfig(parse(await readFile(agentYaml, 'utf8')), etc, agentYaml);
    t.deepEqual(agent.collector.urls, ['http://collector.test:7070']);
    t.is(agent.stateDir, '/var/lib/tributary/agent');
    t.is((await stat(agentYaml)).mode & 0o777, 0o640);
    t.is((await stat(path.join(etc, 'agent.env'))).mode & 0o777, 0o600);
    for (const unit of ['tributary-agent.service', 'tributary-collector.service']) {
      t.is(
        await readFile(path.join(root, 'etc/systemd/system', unit), 'utf8'),
        await readFile(path.join(DEPLOY, 'systemd', unit), 'utf8'),
        `${unit} installed as shipped (default prefix)`,
      );
    }
    t.is(await readlink(path.join(root, 'usr/local/bin/tributary')), '/opt/tributary/bin/tributary');
    t.regex(
      await readFile(path.join(root, 'opt/tributary/bin/tributary'), 'utf8'),
      new RegExp(`exec ${process.execPath} /opt/tributary/app/dist/shared/cli/tributary.js "\\$@"`),
    );
    if (which('systemctl')) {
      t.is(
        await readlink(path.join(root, 'etc/systemd/system/multi-user.target.wants/tributary-agent.service')),
        '/etc/systemd/system/tributary-agent.service',
        'the agent unit is enabled',
      );
    } else {
      t.log('no systemctl on this machine: enablement not checked');
    }
    if (isRoot) {
      const users = (await readFile(path.join(root, 'etc/passwd'), 'utf8'))
        .split('\n')
        .filter((l) => l.startsWith('tributary:'));
      t.is(users.length, 1);
      t.regex(users[0]!, /:\/var\/lib\/tributary:\/usr\/sbin\/nologin$/);
      const gid = users[0]!.split(':')[3] ?? 'missing';
      t.is(String((await stat(agentYaml)).gid), gid, 'agent.yaml is readable by the tributary group');
    } else {
      t.log('not root: the user is not created (install.sh says so); ownership not checked');
    }

    // The installed package runs with its production dependencies only.
    const help = spawnSync(
      process.execPath,
      [path.join(root, 'opt/tributary/app/dist/shared/cli/tributary.js'), 'agent', '--help'],
      {
        encoding: 'utf8',
      },
    );
    t.is(help.status, 0, help.stderr);
    t.regex(help.stdout, /--config/);
    t.false(existsSync(path.join(root, 'opt/tributary/app/node_modules/ava')), 'no dev dependencies');

    // An operator's edit survives a reinstall.
    await writeFile(agentYaml, `${await readFile(agentYaml, 'utf8')}# edited by the operator\n`);
    const third = run(args);
    t.is(third.status, 0, third.out);
    t.regex(await readFile(agentYaml, 'utf8'), /# edited by the operator/);

    // --uninstall keeps configuration; --purge removes it and the user.
    const un = run(['--root', root, '--uninstall']);
    t.is(un.status, 0, un.out);
    t.false(existsSync(path.join(root, 'opt/tributary')));
    t.false(existsSync(path.join(root, 'etc/systemd/system/tributary-agent.service')));
    t.false(existsSync(path.join(root, 'usr/local/bin/tributary')));
    t.true(existsSync(agentYaml), 'config kept without --purge');
    const purge = run(['--root', root, '--uninstall', '--purge']);
    t.is(purge.status, 0, purge.out);
    const after = await snapshotTree(root, notBackup);
    t.deepEqual(treeDiff(before, after), [], 'the root is not as it was before the install');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('deploy - install.sh refuses a Node older than 20.19, with the version in the message', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tributary-install-root-'));
  try {
    const fake = path.join(root, 'node');
    await writeFile(fake, '#!/bin/sh\n[ "$1" = -p ] && { echo 20.18.3; exit 0; }\nexit 1\n');
    await chmod(fake, 0o755);
    const r = run(['--root', root, '--package', tarball, '--node', fake]);
    t.is(r.status, 1);
    t.regex(r.out, /Node\.js 20\.18\.3 .* is too old: Tributary needs >= 20\.19/);
    t.false(existsSync(path.join(root, 'opt/tributary/app')), 'nothing installed');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('deploy - install.sh rejects unknown options and a relative --prefix', (t) => {
  const bad = run(['--frobnicate']);
  t.is(bad.status, 2);
  t.regex(bad.out, /unknown option --frobnicate/);
  const rel = run(['--prefix', 'opt/x', '--uninstall']);
  t.is(rel.status, 1);
  t.regex(rel.out, /--prefix must be an absolute path/);
});

needs(which('systemd-analyze'), 'systemd-analyze is not installed (apt install systemd)').test(
  'deploy - the systemd units pass systemd-analyze verify',
  async (t, analyze) => {
    // verify checks that ExecStart's binary exists: point it at a stand-in inside a temporary directory.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-units-'));
    try {
      await mkdir(path.join(dir, 'opt/tributary/bin'), { recursive: true });
      await copyFile('/bin/true', path.join(dir, 'opt/tributary/bin/tributary'));
      const units: string[] = [];
      for (const unit of ['tributary-agent.service', 'tributary-collector.service']) {
        const text = await readFile(path.join(DEPLOY, 'systemd', unit), 'utf8');
        t.regex(text, /^ExecStart=\/opt\/tributary\/bin\/tributary /m);
        for (const directive of [
          'User=tributary',
          'ProtectSystem=strict',
          'ProtectHome=yes',
          'PrivateTmp=yes',
          'NoNewPrivileges=yes',
          'CapabilityBoundingSet=\n',
          'Restart=on-failure',
          'LimitNOFILE=',
          'StateDirectory=tributary/',
        ]) {
          t.true(text.includes(directive), `${unit}: ${directive.trim()}`);
        }
        const file = path.join(dir, unit);
        await writeFile(file, text.replaceAll('/opt/tributary/', `${dir}/opt/tributary/`));
        units.push(file);
      }
      const agentUnit = await readFile(path.join(DEPLOY, 'systemd/tributary-agent.service'), 'utf8');
      t.regex(agentUnit, /^SupplementaryGroups=adm$/m);
      t.regex(agentUnit, /^ReadOnlyPaths=\/var\/log$/m);
      const r = spawnSync(analyze, ['verify', ...units], { encoding: 'utf8' });
      t.is(r.status, 0, r.stdout + r.stderr);
      // Only the restart-backoff keys of systemd >= 254 may be reported (ignored by older systemd, with a notice).
      const complaints = `${r.stdout}${r.stderr}`
        .split('\n')
        .filter((l) => l.trim() && !/Unknown key '(RestartSteps|RestartMaxDelaySec)'/.test(l));
      t.deepEqual(complaints, []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

needs(which('shellcheck'), 'shellcheck is not installed (apt install shellcheck)').test(
  'deploy - install.sh is shellcheck-clean',
  (t, shellcheck) => {
    const r = spawnSync(shellcheck, ['--shell=sh', SCRIPT], { encoding: 'utf8' });
    t.is(r.status, 0, r.stdout + r.stderr);
  },
);
