/**
 * Search: the query bar, the volume histogram and the results, newest first, loaded a page at a time as the list
 * is scrolled (up to 100,000 lines) and drawn virtualised. The search lives in the URL (search-state.ts): running
 * one pushes it to the history, and opening a link runs it. Clicking a line opens the record; Esc closes it.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, getJson, streamNdjson, type QuerySummary, type WireRecord } from '../api.ts';
import { Histogram, type VolumeAnswer } from '../components/histogram.tsx';
import { LogLine } from '../components/log-line.tsx';
import { QueryBar } from '../components/query-bar.tsx';
import { RecordDetail } from '../components/record-detail.tsx';
import { VirtualList } from '../components/virtual-list.tsx';
import { filterParams, parseSearch, resolveRange, type SearchState, searchParams } from '../search-state.ts';

const FIRST_PAGE = 500;
const NEXT_PAGE = 5000;
export const MAX_RESULTS = 100_000;

interface Run {
  readonly id: number;
  readonly state: SearchState;
  readonly since: number;
  readonly until: number;
  readonly started: number;
}

function isSummary(line: unknown): line is { summary: QuerySummary } {
  return typeof line === 'object' && line !== null && 'summary' in line;
}

export function SearchPage({ topics, navigate }: { topics: readonly string[]; navigate: (path: string) => void }) {
  const [draft, setDraft] = useState<SearchState>(() => {
    const state = parseSearch(new URLSearchParams(location.search));
    return state.topic || topics.length === 0 ? state : { ...state, topic: topics[0]! };
  });
  const [run, setRun] = useState<Run | undefined>();
  const records = useRef<WireRecord[]>([]);
  const [count, setCount] = useState(0);
  const [summary, setSummary] = useState<QuerySummary | undefined>();
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [volume, setVolume] = useState<VolumeAnswer | undefined>();
  const [selected, setSelected] = useState<WireRecord | undefined>();
  const [tookMs, setTookMs] = useState<number | undefined>();
  const abort = useRef<AbortController | undefined>(undefined);
  const firstDrawn = useRef(false);
  const runs = useRef(0);
  const startVolume = useRef<() => void>(() => {});

  const loadPage = useCallback(async (current: Run, cursor: string | undefined, limit: number) => {
    const controller = abort.current!;
    setLoading(true);
    let frame = 0;
    const flush = () => {
      frame = 0;
      if (runs.current === current.id) setCount(records.current.length);
    };
    try {
      await streamNdjson(
        `/v1/topics/${encodeURIComponent(current.state.topic)}/query`,
        {
          ...filterParams(current.state),
          since: current.since,
          until: current.until,
          limit,
          order: 'newest',
          cursor,
        },
        (lines) => {
          if (runs.current !== current.id) return;
          for (const line of lines) {
            if (isSummary(line)) setSummary(line.summary);
            else records.current.push(line as WireRecord);
          }
          // the first lines are drawn at once; later ones at most once a frame
          if (records.current.length > 0 && !firstDrawn.current) flush();
          else if (!frame) frame = requestAnimationFrame(flush);
        },
        controller.signal,
      );
      flush();
    } catch (e) {
      if (!controller.signal.aborted) setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      if (runs.current === current.id) {
        setLoading(false);
        setTookMs(performance.now() - current.started);
      }
    }
  }, []);

  const start = useCallback(
    (state: SearchState, push: boolean) => {
      if (!state.topic) return;
      abort.current?.abort();
      abort.current = new AbortController();
      performance.clearMarks();
      performance.clearMeasures();
      performance.mark('tributary:query-run');
      const { since, until } = resolveRange(state.range, Date.now());
      const current: Run = { id: ++runs.current, state, since, until, started: performance.now() };
      const url = `/ui/search?${searchParams(state)}`;
      if (push && url !== location.pathname + location.search) history.pushState(null, '', url);
      records.current = [];
      firstDrawn.current = false;
      setCount(0);
      setSummary(undefined);
      setError(undefined);
      setSelected(undefined);
      setTookMs(undefined);
      setRun(current);
      setDraft(state);
      setVolume(undefined);
      // The histogram is asked for once the first lines are drawn (or the first page ended without any), so its
      // scan does not compete with the query for the collector's time.
      const signal = abort.current.signal;
      let volumeAsked = false;
      startVolume.current = () => {
        if (volumeAsked || runs.current !== current.id) return;
        volumeAsked = true;
        getJson<VolumeAnswer>(
          `/v1/topics/${encodeURIComponent(state.topic)}/volume`,
          { ...filterParams(state), since, until, buckets: 80 },
          { signal },
        )
          .then((v) => runs.current === current.id && setVolume(v))
          .catch((e: unknown) => {
            if (runs.current === current.id && !signal.aborted) setError(String((e as Error).message));
          });
      };
      void loadPage(current, undefined, FIRST_PAGE).then(() => startVolume.current());
    },
    [loadPage],
  );

  // A link opens its search; back and forward re-run the search of the URL.
  useEffect(() => {
    const initial = parseSearch(new URLSearchParams(location.search));
    if (initial.topic) start(initial, false);
    else if (draft.topic) start(draft, true);
    const onPop = () => {
      if (location.pathname.endsWith('/search') || location.pathname === '/ui/') {
        start(parseSearch(new URLSearchParams(location.search)), false);
      }
    };
    window.addEventListener('popstate', onPop);
    return () => {
      window.removeEventListener('popstate', onPop);
      abort.current?.abort();
    };
  }, []);

  useEffect(() => {
    if (count > 0 && !firstDrawn.current) {
      firstDrawn.current = true;
      performance.mark('tributary:first-lines');
      performance.measure('tributary:first-lines', 'tributary:query-run', 'tributary:first-lines');
      startVolume.current();
    }
  }, [count]);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') setSelected(undefined);
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  const onNearEnd = useCallback(() => {
    if (!run || loading || !summary?.cursor || records.current.length >= MAX_RESULTS) return;
    void loadPage(run, summary.cursor, Math.min(NEXT_PAGE, MAX_RESULTS - records.current.length));
  }, [run, loading, summary, loadPage]);

  const zoom = (from: number, to: number) => start({ ...draft, range: { kind: 'absolute', from, to } }, true);

  return (
    <section class="page search-page">
      <QueryBar
        state={draft}
        topics={topics}
        showRange
        runLabel="Search"
        onChange={setDraft}
        onRun={(s) => start(s, true)}
      />
      <div class="toolbar">
        <span class="status" data-testid="status">
          {error ? (
            <span class="error" role="alert">
              {error}
            </span>
          ) : run ? (
            <>
              {count.toLocaleString()} lines, newest first
              {loading ? ' · loading…' : ''}
              {summary?.partial ? ' · partial: the scan budget ran out (narrow the range)' : ''}
              {summary?.cursor && !loading && count < MAX_RESULTS ? ' · scroll for more' : ''}
              {tookMs !== undefined && !loading ? ` · ${Math.round(tookMs)} ms` : ''}
            </>
          ) : (
            'Choose a topic and press Enter.'
          )}
        </span>
        {run && (
          <button
            type="button"
            class="link"
            onClick={() =>
              navigate(`/ui/live?${searchParams({ ...run.state, range: { kind: 'preset', preset: '5m' } })}`)
            }
          >
            Live tail this query →
          </button>
        )}
      </div>
      {run && volume && <Histogram volume={volume} since={run.since} until={run.until} onZoom={zoom} />}
      <div class="results-area">
        <VirtualList
          label="results"
          count={count}
          onNearEnd={onNearEnd}
          row={(i) => {
            const record = records.current[i]!;
            return (
              <LogLine
                record={record}
                filter={run?.state ?? draft}
                selected={selected === record}
                onOpen={setSelected}
              />
            );
          }}
        />
        {selected && run && (
          <RecordDetail topic={run.state.topic} record={selected} onClose={() => setSelected(undefined)} />
        )}
      </div>
    </section>
  );
}
