import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileLogStore } from '../../../collector/storage/file/index.ts';
import { logStoreContract } from './contract.ts';

logStoreContract('file', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'tributary-contract-'));
  const open = () => FileLogStore.open({ dataDir, retentionCheckIntervalMs: 0 });
  return { store: await open(), reopen: open, cleanup: () => rm(dataDir, { recursive: true, force: true }) };
});
