/**
 * Commit fencing is wired by the collector itself (collector.ts owns the group coordinator), not by a route module:
 * a collector serving only the offsets routes still refuses a commit that names a member the group does not have.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { startCollector } from '../../collector/collector.ts';
import { parseCollectorConfig } from '../../collector/config.ts';
import { groupOffsetsRoutes } from '../../collector/http/routes/group-offsets.ts';
import { produceRoutes } from '../../collector/http/routes/produce.ts';

test('commit fencing - without the membership routes, a commit from an unknown member is still refused', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tributary-fencing-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { options } = parseCollectorConfig({ listen: { port: 0 }, data_dir: dir });
  const collector = await startCollector(options, { routes: [produceRoutes, groupOffsetsRoutes] });
  t.teardown(() => collector.close());
  const produced = await fetch(`${collector.address}/v1/topics/logs/records`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: '{"key":"k","value":"v"}\n',
  });
  t.is(produced.status, 200);
  const commit = (body: object) =>
    fetch(`${collector.address}/v1/groups/readers/offsets`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const offsets = [{ topic: 'logs', partition: 0, offset: 1 }];
  const ghost = await commit({ offsets, member_id: 'ghost-1', generation_id: 3 });
  t.is(ghost.status, 409);
  t.like(await ghost.json(), { error: { code: 'unknown_member' } });
  const standalone = await commit({ offsets });
  t.is(standalone.status, 200, 'a group without members takes a commit that names no member');
});
