/**
 * Configuration as a user meets it through `tributary collector`: errors that name the key and the value, env
 * interpolation and overrides, flags, and --print-config with tokens masked.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { parseCollectorConfig } from '../../collector/config.ts';
import { CLI, REPO_ROOT } from '../helpers/collector-process.ts';

let dir: string;

test.before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-config-'));
});

test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(yaml: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const file = path.join(dir, `c-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, yaml);
  const result = spawnSync(process.execPath, [CLI, 'collector', '--config', file, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, file };
}

test('config - a bad value names the file, the key path and the value', async (t) => {
  const r = await run('listen:\n  port: abc\n', ['--print-config']);
  t.is(r.status, 1);
  t.regex(r.stderr, /c-\w+\.yaml: listen\.port: expected a number from 0 to 65535, got "abc"/);
});

test('config - every bad key is reported, unknown keys included', async (t) => {
  const r = await run(
    'listen:\n  port: 70000\nlimits:\n  max_body_bytes: lots\ntopcs: {}\ntokens:\n  - token: short\n    role: root\n',
    ['--print-config'],
  );
  t.is(r.status, 1);
  t.regex(r.stderr, /listen\.port: expected a number from 0 to 65535, got 70000/);
  t.regex(r.stderr, /limits\.max_body_bytes: expected a size .* got "lots"/);
  t.regex(r.stderr, /topcs: unknown key/);
  t.regex(r.stderr, /tokens\.0\.token: tokens must be at least 16 characters/);
  t.regex(r.stderr, /tokens\.0\.role: expected one of produce, read, admin, got "root"/);
});

// biome-ignore lint/suspicious/noTemplateCurlyInString: the test is about that syntax in YAML
test('config - ${VAR} and ${VAR:-default} are interpolated; a missing variable is named', async (t) => {
  const yaml = [
    'data_dir: $',
    '{DATA:-/var/lib/tributary}\ntokens:\n  - token: $',
    '{AGENT_TOKEN}\n    role: produce\n',
  ].join('');
  const ok = await run(yaml, ['--print-config'], { AGENT_TOKEN: 'agent-secret-0123456789' });
  t.is(ok.status, 0, ok.stderr);
  const printed = parse(ok.stdout) as { data_dir: string };
  t.is(printed.data_dir, '/var/lib/tributary');
  const missing = await run(yaml, ['--print-config'], { AGENT_TOKEN: '' });
  t.is(missing.status, 1);
  t.regex(missing.stderr, /environment variables that are not set: AGENT_TOKEN/);
});

test('config - --print-config shows the effective config with defaults, env and flags applied, tokens masked', async (t) => {
  const secret = 'super-secret-token-value-42';
  const r = await run(
    `tokens:\n  - name: ops\n    token: ${secret}\n    role: admin\nlisten:\n  port: 8000\n`,
    ['--print-config', '--port', '9001', '--log-level', 'debug'],
    { TRIBUTARY_COLLECTOR_LIMITS_MAX_LINE_BYTES: '2048', TRIBUTARY_COLLECTOR_LISTEN_HOST: '127.0.0.2' },
  );
  t.is(r.status, 0, r.stderr);
  t.false(r.stdout.includes(secret), 'the token is printed');
  t.false(r.stdout.includes('value-42'));
  const printed = parse(r.stdout) as {
    listen: { host: string; port: number };
    tokens: { name: string; token: string; role: string }[];
    limits: { max_line_bytes: string; max_body_bytes: string; max_wait: string; request_timeout: string };
    log_level: string;
    topics: { auto_create: boolean; default_partitions: number; retention: string; retention_bytes: null };
    data_dir: string;
  };
  t.deepEqual(printed.listen, { host: '127.0.0.2', port: 9001 });
  t.is(printed.tokens[0]!.name, 'ops');
  t.is(printed.tokens[0]!.token, '********');
  // Sizes and durations in the units a config file uses; paths resolved; request_timeout at its effective value.
  t.is(printed.limits.max_line_bytes, '2KiB');
  t.is(printed.limits.max_body_bytes, '16MiB');
  t.is(printed.limits.max_wait, '1m');
  t.is(printed.limits.request_timeout, '2m');
  t.is(printed.topics.retention, '7d');
  t.is(printed.topics.retention_bytes, null);
  t.is(printed.data_dir, path.join(dir, 'data'), 'data_dir resolved against the config file directory');
  t.is(printed.log_level, 'debug');
  t.true(printed.topics.auto_create);
});

test('config - what --print-config prints is a config file that loads to the same settings', async (t) => {
  const r = await run('limits:\n  max_wait: 90s\ntopics:\n  retention: 36h\n  segment_bytes: 4096\n', [
    '--print-config',
  ]);
  t.is(r.status, 0, r.stderr);
  const again = path.join(dir, 'printed.yaml');
  await writeFile(again, r.stdout);
  const second = spawnSync(process.execPath, [CLI, 'collector', '--config', again, '--print-config'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  t.is(second.status, 0, second.stderr);
  t.is(second.stdout, r.stdout);
  t.regex(r.stdout, /max_wait: 90s/);
  t.regex(r.stdout, /retention: 36h/);
  t.regex(r.stdout, /segment_bytes: 4KiB/);
});

test('config - an environment override with a bad value names the key', async (t) => {
  const r = await run('{}\n', ['--print-config'], { TRIBUTARY_COLLECTOR_LISTEN_PORT: 'http' });
  t.is(r.status, 1);
  t.regex(r.stderr, /listen\.port: expected a number from 0 to 65535, got "http"/);
});

test('config - TLS needs both files', async (t) => {
  const r = await run('tls:\n  cert_file: cert.pem\n', ['--print-config']);
  t.is(r.status, 1);
  t.regex(r.stderr, /tls: set both cert_file and key_file/);
});

test('config - limits.request_timeout defaults to max_wait + 60 s and must be larger than max_wait', async (t) => {
  t.is(parseCollectorConfig({}).options.limits.requestTimeoutMs, 120_000);
  t.is(parseCollectorConfig({ limits: { max_wait: '10s' } }).options.limits.requestTimeoutMs, 70_000);
  t.is(
    parseCollectorConfig({ limits: { max_wait: '1s', request_timeout: '5s' } }).options.limits.requestTimeoutMs,
    5000,
  );
  const equal = await run('limits:\n  max_wait: 30s\n  request_timeout: 30s\n', ['--print-config']);
  t.is(equal.status, 1);
  t.regex(
    equal.stderr,
    /c-\w+\.yaml: limits\.request_timeout: 30000ms must be larger than limits\.max_wait \(30000ms\); raise request_timeout or lower max_wait/,
  );
  const bad = await run('limits:\n  request_timeout: soon\n', ['--print-config']);
  t.is(bad.status, 1);
  t.regex(bad.stderr, /limits\.request_timeout: expected a duration .* got "soon"/);
  const ok = await run('limits:\n  max_wait: 1s\n  request_timeout: 5s\n', ['--print-config']);
  t.is(ok.status, 0, ok.stderr);
  t.is((parse(ok.stdout) as { limits: { request_timeout: string } }).limits.request_timeout, '5s');
});
