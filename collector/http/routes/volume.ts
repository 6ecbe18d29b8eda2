/**
 * `GET /v1/topics/{topic}/volume` — role `read`: matching records per time bucket, split by the `level` label
 * (collector/query/volume.ts). Takes the filters of the query route (`since`, `until`, `where`, `grep`, `regex`,
 * `ignore_case`), `buckets` (about how many, default 60, at most 1000; the step is rounded to a readable interval)
 * and the scan budget `max_scan_bytes` / `max_scan_ms` (default 1 GiB / 10 s; past it the answer is `partial`).
 * `since` defaults to an hour ago, `until` to now.
 */
import { assertValidName } from '../../../shared/names.ts';
import { countVolume, MAX_BUCKETS } from '../../query/volume.ts';
import type { RouteModule } from '../context.ts';
import { intParam } from '../query-params.ts';
import { parseFilters, type QueryString } from './query.ts';

interface VolumeQuery extends QueryString {
  buckets?: string;
}

export const volumeRoutes: RouteModule = {
  name: 'volume',
  register(app, ctx) {
    app.get<{ Params: { topic: string }; Querystring: VolumeQuery }>(
      '/v1/topics/:topic/volume',
      { config: { role: 'read' } },
      async (request) => {
        const { topic } = request.params;
        assertValidName('topic', topic);
        const now = Date.now();
        const filters = parseFilters(request.query);
        const volume = await countVolume(ctx.store, {
          ...filters,
          topic,
          since: filters.since ?? now - 3_600_000,
          until: filters.until ?? now,
          buckets: intParam(request.query.buckets, 'buckets', { min: 1, max: MAX_BUCKETS, default: 60 }),
          maxScanBytes: intParam(request.query.max_scan_bytes, 'max_scan_bytes', { min: 1, default: 1024 ** 3 }),
          maxScanMs: intParam(request.query.max_scan_ms, 'max_scan_ms', { min: 1, max: 60_000, default: 10_000 }),
        });
        const levels = [...new Set(volume.buckets.flatMap((b) => Object.keys(b)))].sort();
        return {
          start: volume.start,
          step_ms: volume.step,
          levels,
          buckets: volume.buckets.map((counts, i) => ({ start: volume.start + i * volume.step, counts })),
          total: volume.total,
          partial: volume.partial,
          scanned_bytes: volume.scannedBytes,
        };
      },
    );
  },
};
