/**
 * Discovery: which files the agent should read. chokidar watches the directory at the base of each include glob
 * (chokidar 4+ has no globs of its own); every path it reports is matched against the sources' include and exclude
 * globs with picomatch. The first source whose globs match a path owns it.
 *
 * Discovery only says that a path appeared, changed or disappeared; it knows nothing about inodes or positions. A
 * rename-and-recreate may arrive as a plain `change` (or as nothing, when events are coalesced): the file server
 * compares identities itself on every poll, so discovery events are hints that wake it early, except `appeared`,
 * which is how a new path becomes known (the file server also opens a new file at a path one of its readers had).
 */
import path from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import picomatch from 'picomatch';

export interface DiscoverySource {
  readonly include: readonly string[];
  readonly exclude: readonly string[];
}

export type DiscoveryEvent = 'appeared' | 'changed' | 'removed';

export interface FileDiscoveryOptions {
  /** Globs must be absolute (config.ts resolves them). */
  readonly sources: readonly DiscoverySource[];
  /** stat polling instead of inotify, for file systems without change notification (NFS, some container mounts). */
  readonly poll: boolean;
  readonly pollIntervalMs: number;
  readonly onEvent: (event: DiscoveryEvent, filePath: string, sourceIndex: number) => void;
  readonly onError: (error: Error) => void;
}

interface WatchRoot {
  readonly dir: string;
  /** undefined: unlimited (the glob has `**`). */
  readonly depth: number | undefined;
}

/** The directory to watch for one glob and how deep below it matches can lie. */
export function watchRootOf(glob: string): WatchRoot {
  const scan = picomatch.scan(glob);
  const dir = scan.isGlob ? scan.base || '/' : path.dirname(glob);
  if (!scan.isGlob) return { dir, depth: 0 };
  const rest = scan.glob.split('/');
  return { dir, depth: rest.includes('**') || rest.some((s) => s.includes('**')) ? undefined : rest.length - 1 };
}

export class FileDiscovery {
  private readonly options: FileDiscoveryOptions;
  private readonly matchers: { include: (p: string) => boolean; exclude: (p: string) => boolean }[];
  private readonly watchers: FSWatcher[] = [];

  constructor(options: FileDiscoveryOptions) {
    this.options = options;
    this.matchers = options.sources.map((s) => ({
      include: picomatch(s.include as string[], { dot: true }),
      exclude: s.exclude.length > 0 ? picomatch(s.exclude as string[], { dot: true }) : () => false,
    }));
  }

  /** Index of the source owning `filePath`, or undefined if none matches. */
  sourceOf(filePath: string): number | undefined {
    for (let i = 0; i < this.matchers.length; i++) {
      const m = this.matchers[i]!;
      if (m.include(filePath) && !m.exclude(filePath)) return i;
    }
    return undefined;
  }

  /** Starts watching; resolves once the files present now have all been reported as `appeared`. */
  async start(): Promise<void> {
    const roots = new Map<string, number | undefined>();
    for (const source of this.options.sources) {
      for (const glob of source.include) {
        const root = watchRootOf(glob);
        if (!roots.has(root.dir)) roots.set(root.dir, root.depth);
        else {
          // Two globs under one directory: watch as deep as the deeper one needs.
          const seen = roots.get(root.dir);
          roots.set(root.dir, seen === undefined || root.depth === undefined ? undefined : Math.max(seen, root.depth));
        }
      }
    }
    const report = (event: DiscoveryEvent) => (p: string) => {
      const abs = path.resolve(p);
      const index = this.sourceOf(abs);
      if (index !== undefined) this.options.onEvent(event, abs, index);
    };
    const ready: Promise<void>[] = [];
    // One watcher per root: chokidar applies one depth per watcher.
    for (const [dir, depth] of roots) {
      const watcher = watch(dir, {
        persistent: true,
        ignoreInitial: false,
        usePolling: this.options.poll,
        interval: this.options.pollIntervalMs,
        binaryInterval: this.options.pollIntervalMs,
        ...(depth === undefined ? {} : { depth }),
        // Files no source wants are not watched at all; directories always are (matches may lie below them).
        ignored: (p: string, stats?: { isFile(): boolean }) =>
          stats?.isFile() === true && this.sourceOf(path.resolve(p)) === undefined,
        ignorePermissionErrors: true,
        atomic: false,
      });
      this.watchers.push(watcher);
      watcher.on('add', report('appeared'));
      watcher.on('change', report('changed'));
      watcher.on('unlink', report('removed'));
      watcher.on('error', (e) => this.options.onError(e instanceof Error ? e : new Error(String(e))));
      ready.push(new Promise<void>((resolve) => watcher.once('ready', () => resolve())));
    }
    await Promise.all(ready);
  }

  async close(): Promise<void> {
    const watchers = this.watchers.splice(0);
    await Promise.all(watchers.map((w) => w.close()));
  }
}
