/**
 * Live tail: new records matching the query as they are appended (the collector's tail route, a stream over the
 * follow query), newest first, with a rate readout. Pause stops drawing, not receiving: lines that arrive while
 * paused are kept and shown on resume. The page keeps at most `cap` lines (the oldest go first) so a busy topic
 * cannot exhaust the tab's memory; drawing happens at most once a frame, whatever the rate.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, streamNdjson, type WireRecord } from '../api.ts';
import { LogLine } from '../components/log-line.tsx';
import { QueryBar } from '../components/query-bar.tsx';
import { RecordDetail } from '../components/record-detail.tsx';
import { VirtualList } from '../components/virtual-list.tsx';
import { filterParams, parseSearch, type SearchState, searchParams } from '../search-state.ts';

const CAPS = [1000, 10_000, 50_000] as const;
const RATE_WINDOW_MS = 5000;

function isRecord(line: unknown): line is WireRecord {
  return typeof line === 'object' && line !== null && 'offset' in line;
}

export function LivePage({ topics }: { topics: readonly string[] }) {
  const [draft, setDraft] = useState<SearchState>(() => {
    const state = parseSearch(new URLSearchParams(location.search));
    return state.topic || topics.length === 0 ? state : { ...state, topic: topics[0]! };
  });
  const [following, setFollowing] = useState<SearchState | undefined>();
  /** True once the collector answered the tail: lines appended from now on will show. */
  const [connected, setConnected] = useState(false);
  const [paused, setPaused] = useState(false);
  const [cap, setCap] = useState<number>(10_000);
  const [, setVersion] = useState(0);
  const [error, setError] = useState<string | undefined>();
  const [rate, setRate] = useState(0);
  const [selected, setSelected] = useState<WireRecord | undefined>();
  const shown = useRef<WireRecord[]>([]);
  const pending = useRef<WireRecord[]>([]);
  const dropped = useRef(0);
  const arrivals = useRef<{ at: number; n: number }[]>([]);
  const pausedRef = useRef(false);
  const capRef = useRef(cap);
  const abort = useRef<AbortController | undefined>(undefined);
  const frame = useRef(0);

  const trim = (list: WireRecord[]) => {
    if (list.length > capRef.current) {
      const extra = list.length - capRef.current;
      dropped.current += extra;
      list.splice(0, extra);
    }
  };

  const redraw = useCallback(() => {
    if (!frame.current) {
      frame.current = requestAnimationFrame(() => {
        frame.current = 0;
        setVersion((v) => v + 1);
      });
    }
  }, []);

  const follow = useCallback(
    (state: SearchState) => {
      if (!state.topic) return;
      abort.current?.abort();
      const controller = new AbortController();
      abort.current = controller;
      const url = `/ui/live?${searchParams(state)}`;
      if (url !== location.pathname + location.search) history.pushState(null, '', url);
      shown.current = [];
      pending.current = [];
      dropped.current = 0;
      arrivals.current = [];
      setError(undefined);
      setConnected(false);
      setFollowing(state);
      setDraft(state);
      redraw();
      streamNdjson(
        `/v1/topics/${encodeURIComponent(state.topic)}/tail`,
        filterParams(state),
        (lines) => {
          if (!controller.signal.aborted) setConnected(true);
          const records = lines.filter(isRecord);
          if (records.length === 0) return;
          arrivals.current.push({ at: performance.now(), n: records.length });
          const into = pausedRef.current ? pending.current : shown.current;
          for (const r of records) into.push(r);
          trim(into);
          if (!pausedRef.current) redraw();
          else setVersion((v) => v + 1);
        },
        controller.signal,
      )
        .then(() => {
          if (!controller.signal.aborted) setError('the collector ended the stream; press Follow to start again');
        })
        .catch((e: unknown) => {
          if (!controller.signal.aborted) setError(e instanceof ApiError ? e.message : String(e));
        });
    },
    [redraw],
  );

  useEffect(() => {
    if (draft.topic) follow(draft);
    const timer = setInterval(() => {
      const now = performance.now();
      arrivals.current = arrivals.current.filter((a) => now - a.at <= RATE_WINDOW_MS);
      const n = arrivals.current.reduce((sum, a) => sum + a.n, 0);
      setRate(n / (RATE_WINDOW_MS / 1000));
    }, 500);
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') setSelected(undefined);
    };
    document.addEventListener('keydown', onKey);
    return () => {
      clearInterval(timer);
      document.removeEventListener('keydown', onKey);
      abort.current?.abort();
      if (frame.current) cancelAnimationFrame(frame.current);
    };
  }, []);

  const togglePause = () => {
    const next = !pausedRef.current;
    pausedRef.current = next;
    setPaused(next);
    if (!next) {
      for (const r of pending.current) shown.current.push(r);
      pending.current = [];
      trim(shown.current);
      redraw();
    }
  };

  const changeCap = (value: number) => {
    capRef.current = value;
    setCap(value);
    trim(shown.current);
    trim(pending.current);
    redraw();
  };

  const list = shown.current;
  return (
    <section class="page live-page">
      <QueryBar state={draft} topics={topics} showRange={false} runLabel="Follow" onChange={setDraft} onRun={follow} />
      <div class="toolbar">
        <span class="status" data-testid="status">
          {error ? (
            <span class="error" role="alert">
              {error}
            </span>
          ) : following && !connected ? (
            <>connecting to {following.topic}…</>
          ) : following ? (
            <>
              <span data-testid="following">following</span> <b>{following.topic}</b> ·{' '}
              <span data-testid="rate">{Math.round(rate).toLocaleString()}</span> lines/s ·{' '}
              <span data-testid="kept">{list.length.toLocaleString()}</span> shown
              {paused ? (
                <>
                  {' '}
                  · paused, <span data-testid="pending">{pending.current.length.toLocaleString()}</span> new
                </>
              ) : null}
              {dropped.current > 0 ? ` · ${dropped.current.toLocaleString()} older lines dropped (cap)` : ''}
            </>
          ) : (
            'Choose a topic and press Enter to follow it.'
          )}
        </span>
        <button type="button" onClick={togglePause} disabled={!following} class={paused ? 'primary' : ''}>
          {paused ? 'Resume' : 'Pause'}
        </button>
        <label>
          keep{' '}
          <select
            aria-label="lines kept"
            value={String(cap)}
            onChange={(e) => changeCap(Number((e.target as HTMLSelectElement).value))}
          >
            {CAPS.map((c) => (
              <option key={c} value={String(c)}>
                {c.toLocaleString()} lines
              </option>
            ))}
          </select>
        </label>
      </div>
      <div class="results-area">
        <VirtualList
          label="live lines"
          count={list.length}
          row={(i) => {
            const record = list[list.length - 1 - i]!;
            return (
              <LogLine
                record={record}
                filter={following ?? draft}
                selected={selected === record}
                onOpen={setSelected}
              />
            );
          }}
        />
        {selected && following && (
          <RecordDetail topic={following.topic} record={selected} onClose={() => setSelected(undefined)} />
        )}
      </div>
    </section>
  );
}
