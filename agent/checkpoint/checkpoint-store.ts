/**
 * The agent's checkpoint file: for each file identity, the byte position up to which every line has been
 * acknowledged by the collector. A restart resumes each file exactly there.
 *
 * Layout (`<state_dir>/checkpoints.json`, JSON, one object):
 *
 *   { "version": 1,
 *     "checkpoints": [ { "file": "<dev>:<ino>", "path": "/var/log/app.log", "position": 1234,
 *                        "fingerprint": { "length": 256, "crc": 305419896 }, "updated_at": 1764000000000,
 *                        "first_seen": 1763990000000 } ] }
 *
 * `first_seen` (when the agent first read the file) was added without a version change: files written by earlier
 * agents lack it and are read with `updated_at` in its place (test/agent/upgrade.test.ts).
 *
 * Invariants and crash policy:
 * - Written to `checkpoints.json.tmp`, fsynced, renamed over `checkpoints.json`, then the directory is fsynced: a
 *   crash leaves either the old or the new file, never a torn one. A write is skipped when nothing changed.
 * - Keyed by file identity (device + inode); the fingerprint tells a reused inode from the file we read (a mismatch
 *   means: read the new file from its beginning, unless a copy of it holds its rest). `path` is the path the file was
 *   first read at (its source): after a restart, the file is looked for in that directory under any name.
 * - A position is only ever one the collector acknowledged, so after a crash the agent re-sends at most what was in
 *   flight (at-least-once), and never skips a line.
 * - A file that cannot be parsed, or has an unknown version, is reported, moved aside to
 *   `checkpoints.json.corrupt-<ms>` for inspection, and start-up continues as on a first start.
 * - Entries of files no longer read are kept for `retentionMs` (a rotated file may be found again under another
 *   name), then dropped.
 */
import { mkdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../shared/atomic-file.ts';
import type { BytePosition } from '../../shared/record.ts';
import type { FileKey, Fingerprint } from '../read/fingerprint.ts';

export const CHECKPOINT_FILE = 'checkpoints.json';
export const CHECKPOINT_VERSION = 1;

export interface Checkpoint {
  readonly file: FileKey;
  readonly path: string;
  readonly position: BytePosition;
  readonly fingerprint: Fingerprint;
  readonly updatedAt: number;
  /** When the agent first read this file (files of older checkpoint files: their `updated_at`). */
  readonly firstSeen: number;
}

const FileSchema = z.object({
  version: z.literal(CHECKPOINT_VERSION),
  checkpoints: z.array(
    z.object({
      file: z.string().regex(/^\d+:\d+$/),
      path: z.string(),
      position: z.number().int().nonnegative(),
      fingerprint: z.object({ length: z.number().int().nonnegative(), crc: z.number().int().nonnegative() }),
      updated_at: z.number().int().nonnegative(),
      first_seen: z.number().int().nonnegative().optional(),
    }),
  ),
});

export interface LoadResult {
  /** False when there was no checkpoint file: the agent's first start (start_position applies). */
  readonly existed: boolean;
  /** Set when the file existed but could not be used; it was moved aside to `movedTo`. */
  readonly corrupt?: { readonly reason: string; readonly movedTo: string };
}

export interface CheckpointStoreOptions {
  readonly stateDir: string;
  /** How long entries of files no longer read are kept. */
  readonly retentionMs: number;
  readonly now?: () => number;
}

export class CheckpointStore {
  private readonly file: string;
  private readonly retentionMs: number;
  private readonly now: () => number;
  private readonly entries = new Map<FileKey, Checkpoint>();
  /** Identities being read now: never expired. */
  private readonly live = new Set<FileKey>();
  /** What the file on disk holds (positions, not timestamps): a save with the same signature is skipped. */
  private lastSignature = '';
  /** The save in progress (saves are serialized). */
  private saving: Promise<boolean> | undefined;

  constructor(options: CheckpointStoreOptions) {
    this.file = path.join(options.stateDir, CHECKPOINT_FILE);
    this.retentionMs = options.retentionMs;
    this.now = options.now ?? Date.now;
  }

  get filePath(): string {
    return this.file;
  }

  async load(): Promise<LoadResult> {
    await mkdir(path.dirname(this.file), { recursive: true });
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { existed: false };
      throw error;
    }
    let reason: string | undefined;
    try {
      const parsed = FileSchema.safeParse(JSON.parse(text));
      if (parsed.success) {
        for (const c of parsed.data.checkpoints) {
          this.entries.set(c.file, {
            file: c.file,
            path: c.path,
            position: c.position,
            fingerprint: c.fingerprint,
            updatedAt: c.updated_at,
            firstSeen: c.first_seen ?? c.updated_at,
          });
        }
        this.lastSignature = this.serialize().signature;
        return { existed: true };
      }
      const issue = parsed.error.issues[0];
      reason = `${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`;
    } catch (error) {
      reason = `not JSON: ${(error as Error).message}`;
    }
    const movedTo = `${this.file}.corrupt-${this.now()}`;
    await rename(this.file, movedTo);
    return { existed: false, corrupt: { reason, movedTo } };
  }

  get(file: FileKey): Checkpoint | undefined {
    return this.entries.get(file);
  }

  /** Every entry, being read now or kept for the retention time. */
  all(): IterableIterator<Checkpoint> {
    return this.entries.values();
  }

  /** Records the acknowledged position of a file being read. */
  set(file: FileKey, filePath: string, position: BytePosition, fingerprint: Fingerprint): void {
    this.live.add(file);
    const now = this.now();
    const firstSeen = this.entries.get(file)?.firstSeen ?? now;
    this.entries.set(file, { file, path: filePath, position, fingerprint, updatedAt: now, firstSeen });
  }

  /** The file is no longer read; its entry is kept for the retention time. */
  release(file: FileKey): void {
    this.live.delete(file);
    const entry = this.entries.get(file);
    if (entry) this.entries.set(file, { ...entry, updatedAt: this.now() });
  }

  /**
   * Writes the file if anything changed since the last write; returns true when it wrote. Calls are serialized: a
   * save called while one is writing waits for it (two writers of one temporary file would tear it, and the later
   * rename would fail).
   */
  save(): Promise<boolean> {
    const run = (this.saving ?? Promise.resolve(false)).catch(() => false).then(() => this.saveNow());
    this.saving = run;
    return run;
  }

  private async saveNow(): Promise<boolean> {
    const cutoff = this.now() - this.retentionMs;
    for (const [key, entry] of this.entries) {
      if (!this.live.has(key) && entry.updatedAt < cutoff) this.entries.delete(key);
    }
    const { text, signature } = this.serialize();
    if (signature === this.lastSignature) return false;
    await writeFileAtomic(this.file, text, 0o600);
    this.lastSignature = signature;
    return true;
  }

  private serialize(): { text: string; signature: string } {
    const checkpoints = [...this.entries.values()]
      .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
      .map((c) => ({
        file: c.file,
        path: c.path,
        position: c.position,
        fingerprint: c.fingerprint,
        updated_at: c.updatedAt,
        first_seen: c.firstSeen,
      }));
    return {
      text: `${JSON.stringify({ version: CHECKPOINT_VERSION, checkpoints }, null, 1)}\n`,
      // Without timestamps, so that a file whose position did not move does not cause a write.
      signature: JSON.stringify(checkpoints.map((c) => [c.file, c.position, c.fingerprint, c.path])),
    };
  }
}
