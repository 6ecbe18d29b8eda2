/**
 * One process per data directory: `<dataDir>/.lock` holds the owner's pid. Two collectors appending to the same
 * segments would corrupt them, so a second one is refused while the owner lives. A lock left by a process that no
 * longer exists (kill -9, power loss) is taken over, so a crash never blocks the restart.
 */
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../../../shared/errors.ts';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class DataDirLock {
  private constructor(private readonly path: string) {}

  static async acquire(dataDir: string): Promise<DataDirLock> {
    const path = join(dataDir, '.lock');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(path, 'wx');
        await handle.writeFile(String(process.pid));
        await handle.close();
        return new DataDirLock(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new ConfigError(
          `the data directory ${dataDir} is in use by process ${owner}; stop it first, or give this collector ` +
            'its own data_dir',
        );
      }
      await rm(path, { force: true }); // left by a process that is gone
    }
    throw new ConfigError(`cannot lock the data directory ${dataDir}: another process keeps taking it`);
  }

  async release(): Promise<void> {
    await rm(this.path, { force: true });
  }
}
