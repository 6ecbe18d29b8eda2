/**
 * Topics: every topic with its partitions (start and end offsets, size, segments), its retention and its produce
 * rate — records per second from the change of the end offsets between two refreshes (every 2 s).
 */
import { useRef, useState } from 'preact/hooks';
import { getJson } from '../api.ts';
import { formatBytes, formatDuration, formatRate } from '../format.ts';
import { usePolling } from '../polling.ts';

interface TopicWire {
  readonly name: string;
  readonly config: {
    readonly partitions: number;
    readonly retention_ms: number | null;
    readonly retention_bytes: number | null;
    readonly flush: string;
  };
  readonly partitions: readonly {
    readonly partition: number;
    readonly start_offset: number;
    readonly end_offset: number;
    readonly size_bytes: number;
    readonly segment_count: number;
  }[];
}

const REFRESH_MS = 2000;

export function TopicsPage({ navigate }: { navigate: (path: string) => void }) {
  const [topics, setTopics] = useState<readonly TopicWire[] | undefined>();
  const [rates, setRates] = useState<Record<string, number>>({});
  const [error, setError] = useState<string | undefined>();
  const last = useRef<{ at: number; ends: Map<string, number> } | undefined>(undefined);

  usePolling(
    () => getJson<{ topics: TopicWire[] }>('/v1/topics'),
    (answer) => {
      const now = performance.now();
      const ends = new Map(answer.topics.map((t) => [t.name, t.partitions.reduce((s, p) => s + p.end_offset, 0)]));
      const before = last.current;
      if (before) {
        const seconds = (now - before.at) / 1000;
        const next: Record<string, number> = {};
        for (const [name, end] of ends) {
          const was = before.ends.get(name);
          if (was !== undefined) next[name] = Math.max(0, end - was) / seconds;
        }
        setRates(next);
      }
      last.current = { at: now, ends };
      setTopics(answer.topics);
    },
    setError,
    REFRESH_MS,
    [],
  );

  return (
    <section class="page table-page">
      <h1>Topics</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {topics?.length === 0 && <p>No topics yet: an agent or a produce call creates them.</p>}
      {topics?.map((t) => {
        const size = t.partitions.reduce((s, p) => s + p.size_bytes, 0);
        const records = t.partitions.reduce((s, p) => s + p.end_offset - p.start_offset, 0);
        return (
          <article key={t.name} class="card" data-topic={t.name}>
            <header>
              <h2>
                <button
                  type="button"
                  class="link"
                  onClick={() => navigate(`/ui/search?topic=${encodeURIComponent(t.name)}`)}
                >
                  {t.name}
                </button>
              </h2>
              <span>
                {t.partitions.length} partitions · {records.toLocaleString()} records · {formatBytes(size)} · retention{' '}
                {formatDuration(t.config.retention_ms)}
                {t.config.retention_bytes !== null ? ` / ${formatBytes(t.config.retention_bytes)} per partition` : ''} ·
                flush {t.config.flush} · produce <b data-testid="rate">{formatRate(rates[t.name])}</b>
              </span>
            </header>
            <table>
              <thead>
                <tr>
                  <th>partition</th>
                  <th class="num">start offset</th>
                  <th class="num">end offset</th>
                  <th class="num">records</th>
                  <th class="num">size</th>
                  <th class="num">segments</th>
                </tr>
              </thead>
              <tbody>
                {t.partitions.map((p) => (
                  <tr key={p.partition}>
                    <td>{p.partition}</td>
                    <td class="num">{p.start_offset.toLocaleString()}</td>
                    <td class="num">{p.end_offset.toLocaleString()}</td>
                    <td class="num">{(p.end_offset - p.start_offset).toLocaleString()}</td>
                    <td class="num">{formatBytes(p.size_bytes)}</td>
                    <td class="num">{p.segment_count}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </article>
        );
      })}
    </section>
  );
}
