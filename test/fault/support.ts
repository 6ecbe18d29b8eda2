/**
 * Helpers for the fault suite (test/fault/): a size-limited tmpfs mounted by the test (root only), a listing of a
 * directory tree (to prove nothing was created outside the data directory), a process's resident memory from
 * /proc, and topic end offsets through the HTTP API. Everything else comes from the collector's and the agent's
 * own test helpers (test/collector/support.ts, test/agent/support.ts, test/helpers/collector-process.ts).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, rmdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** True when this process may mount a tmpfs (root, no seccomp/user-namespace block): probed once. */
export function canMountTmpfs(): boolean {
  const dir = path.join(os.tmpdir(), `tributary-mount-probe-${process.pid}`);
  try {
    execFileSync('mkdir', ['-p', dir]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'ignore' });
    execFileSync('umount', [dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    try {
      execFileSync('rmdir', [dir], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}

/**
 * Decides whether a test that needs a tmpfs runs: yes when mounting works; a skip outside CI; under CI=true an
 * error (a fault test that silently does not run proves nothing).
 */
export function requireTmpfs(what: string): boolean {
  if (canMountTmpfs()) return true;
  if (process.env.CI === 'true') {
    throw new Error(
      `${what} needs to mount a tmpfs (mount -t tmpfs), which is not permitted here: run the tests as root ` +
        '(or in a container with CAP_SYS_ADMIN)',
    );
  }
  return false;
}

export interface Tmpfs {
  readonly dir: string;
  /** Unmounts (lazily, so a straggling child cannot block it) and removes the mount point. */
  dispose(): Promise<void>;
}

/** Mounts a fresh tmpfs of `size` (mount syntax: `4m`) on a new temporary directory. */
export async function mountTmpfs(size: string): Promise<Tmpfs> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  let mounted = true;
  return {
    dir,
    async dispose() {
      if (mounted) {
        mounted = false;
        execFileSync('umount', ['-l', dir]);
      }
      await rmdir(dir).catch(() => rm(dir, { recursive: true, force: true }));
    },
  };
}

/** Every path under `root` (relative, sorted, directories with a trailing '/'). */
export async function listTree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out.push(`${r}/`);
        await walk(path.join(dir, e.name), r);
      } else {
        out.push(r);
      }
    }
  };
  await walk(root, '');
  return out.sort();
}

/** Resident set size of a live process, in bytes (VmRSS of /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kb) * 1024;
}

/** Each partition's end offset of `topic`, or undefined when the topic does not exist. */
export async function endOffsets(baseUrl: string, topic: string, token?: string): Promise<number[] | undefined> {
  const res = await fetch(`${baseUrl}/v1/topics/${encodeURIComponent(topic)}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`describe ${topic}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { partitions: { partition: number; end_offset: number }[] };
  return body.partitions.map((p) => p.end_offset);
}
