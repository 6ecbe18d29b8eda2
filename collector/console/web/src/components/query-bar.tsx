/**
 * The query bar shared by search and live tail: topic, label matchers with autocompletion of label names and
 * values (the collector's labels routes), a text or regex filter, the case switch and, for search, the time range
 * (presets and absolute times). Enter runs the query; `/` anywhere focuses the matchers.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { getJson } from '../api.ts';
import {
  applyCompletion,
  type Completion,
  completionAt,
  RANGE_PRESETS,
  type RangePreset,
  resolveRange,
  type SearchState,
  splitMatchers,
} from '../search-state.ts';

interface Props {
  readonly state: SearchState;
  readonly topics: readonly string[];
  readonly showRange: boolean;
  readonly runLabel: string;
  readonly onChange: (state: SearchState) => void;
  readonly onRun: (state: SearchState) => void;
}

function toLocalInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 19);
}

/** Label names and values for autocompletion, cached per topic for the life of the page section. */
function useLabelSource(topic: string) {
  const cache = useRef(new Map<string, Promise<readonly string[]>>());
  useEffect(() => {
    cache.current = new Map();
  }, [topic]);
  return (completion: Completion, matchers: string): Promise<readonly string[]> => {
    if (!topic) return Promise.resolve([]);
    const base = `/v1/topics/${encodeURIComponent(topic)}/labels`;
    const key = completion.kind === 'name' ? '' : completion.name;
    let answer = cache.current.get(key);
    if (!answer) {
      // values are narrowed by the other matchers when they are complete; names are not
      const others = completion.kind === 'value' ? splitMatchers(matchers).filter((m) => !m.startsWith(key)) : [];
      answer =
        completion.kind === 'name'
          ? getJson<{ names: string[] }>(base, { since: '24h' }).then((a) => a.names)
          : getJson<{ values: string[] }>(`${base}/${encodeURIComponent(key)}/values`, {
              since: '24h',
              where: others.filter((m) => /^[A-Za-z_][\w.-]*\s*(=~|!~|!=|=)\s*("[^"]*"|'[^']*'|[^"',]+)$/.test(m)),
            }).then((a) => a.values);
      answer.catch(() => cache.current.delete(key));
      cache.current.set(key, answer);
    }
    return answer;
  };
}

export function QueryBar({ state, topics, showRange, runLabel, onChange, onRun }: Props) {
  const input = useRef<HTMLInputElement>(null);
  const [suggestions, setSuggestions] = useState<{ completion: Completion; items: readonly string[] } | undefined>();
  const [active, setActive] = useState(0);
  const labels = useLabelSource(state.topic);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement;
      const typing = target.tagName === 'INPUT' || target.tagName === 'TEXTAREA' || target.tagName === 'SELECT';
      if (event.key === '/' && !typing) {
        event.preventDefault();
        input.current?.focus();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  const suggest = async (text: string, caret: number) => {
    const completion = completionAt(text, caret);
    if (!completion) {
      setSuggestions(undefined);
      return;
    }
    try {
      const all = await labels(completion, text);
      const prefix = completion.prefix.toLowerCase();
      const items = all.filter((v) => v.toLowerCase().startsWith(prefix) && v !== completion.prefix).slice(0, 12);
      setSuggestions(items.length > 0 ? { completion, items } : undefined);
      setActive(-1); // Enter runs the query until an arrow key picks a suggestion; Tab takes the first
    } catch {
      setSuggestions(undefined);
    }
  };

  const accept = (choice: string) => {
    const el = input.current;
    if (!el || !suggestions) return;
    const caret = el.selectionStart ?? el.value.length;
    const next = applyCompletion(el.value, caret, suggestions.completion, choice);
    onChange({ ...state, matchers: next.text });
    setSuggestions(undefined);
    requestAnimationFrame(() => {
      el.focus();
      el.setSelectionRange(next.caret, next.caret);
      if (suggestions.completion.kind === 'name') void suggest(next.text, next.caret);
    });
  };

  const onMatcherKey = (event: KeyboardEvent) => {
    if (!suggestions) return;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const n = suggestions.items.length;
      setActive((a) => (a + (event.key === 'ArrowDown' ? 1 : n - 1) + n) % n);
    } else if (event.key === 'Tab' || (event.key === 'Enter' && active >= 0)) {
      const choice = suggestions.items[Math.max(0, active)];
      if (choice !== undefined) {
        event.preventDefault();
        accept(choice);
      }
    } else if (event.key === 'Escape') {
      event.stopPropagation();
      setSuggestions(undefined);
    }
  };

  const range = state.range;
  const resolved = resolveRange(range, Date.now());
  return (
    <form
      class="query-bar"
      onSubmit={(event) => {
        event.preventDefault();
        setSuggestions(undefined);
        onRun(state);
      }}
    >
      <select
        aria-label="topic"
        name="topic"
        value={state.topic}
        onChange={(e) => onChange({ ...state, topic: (e.target as HTMLSelectElement).value })}
      >
        {!topics.includes(state.topic) && <option value={state.topic}>{state.topic || 'choose a topic'}</option>}
        {topics.map((t) => (
          <option key={t} value={t}>
            {t}
          </option>
        ))}
      </select>
      <div class="matchers">
        <input
          ref={input}
          name="matchers"
          aria-label="label matchers"
          placeholder='labels: service="api", level=~"warn|error"   (press / to focus)'
          autocomplete="off"
          spellcheck={false}
          value={state.matchers}
          onInput={(e) => {
            const el = e.target as HTMLInputElement;
            onChange({ ...state, matchers: el.value });
            void suggest(el.value, el.selectionStart ?? el.value.length);
          }}
          onFocus={(e) => {
            const el = e.target as HTMLInputElement;
            void suggest(el.value, el.selectionStart ?? el.value.length);
          }}
          onBlur={() => setTimeout(() => setSuggestions(undefined), 150)}
          onKeyDown={onMatcherKey}
        />
        {suggestions && (
          <ul class="suggestions" aria-label="suggestions">
            {suggestions.items.map((item, i) => (
              <li
                key={item}
                class={i === active ? 'active' : ''}
                onMouseDown={(e) => {
                  e.preventDefault();
                  accept(item);
                }}
              >
                {item}
              </li>
            ))}
          </ul>
        )}
      </div>
      <input
        name="text"
        aria-label="text filter"
        placeholder={state.regex ? 'regular expression' : 'text'}
        autocomplete="off"
        spellcheck={false}
        value={state.text}
        onInput={(e) => onChange({ ...state, text: (e.target as HTMLInputElement).value })}
      />
      <label class="toggle" title="The text is a regular expression">
        <input
          type="checkbox"
          name="regex"
          checked={state.regex}
          onChange={(e) => onChange({ ...state, regex: (e.target as HTMLInputElement).checked })}
        />
        .*
      </label>
      <label class="toggle" title="Match case">
        <input
          type="checkbox"
          name="case"
          checked={state.caseSensitive}
          onChange={(e) => onChange({ ...state, caseSensitive: (e.target as HTMLInputElement).checked })}
        />
        Aa
      </label>
      {showRange && (
        <span class="range">
          <select
            aria-label="time range"
            name="range"
            value={range.kind === 'preset' ? range.preset : 'absolute'}
            onChange={(e) => {
              const value = (e.target as HTMLSelectElement).value;
              onChange({
                ...state,
                range:
                  value === 'absolute'
                    ? { kind: 'absolute', from: resolved.since, to: resolved.until }
                    : { kind: 'preset', preset: value as RangePreset },
              });
            }}
          >
            {RANGE_PRESETS.map((p) => (
              <option key={p} value={p}>
                last {p}
              </option>
            ))}
            <option value="absolute">absolute…</option>
          </select>
          {range.kind === 'absolute' && (
            <>
              <input
                type="datetime-local"
                step="1"
                aria-label="from"
                name="from"
                value={toLocalInput(range.from)}
                onChange={(e) => {
                  const t = new Date((e.target as HTMLInputElement).value).getTime();
                  if (Number.isFinite(t)) onChange({ ...state, range: { ...range, from: t } });
                }}
              />
              <input
                type="datetime-local"
                step="1"
                aria-label="to"
                name="to"
                value={toLocalInput(range.to)}
                onChange={(e) => {
                  const t = new Date((e.target as HTMLInputElement).value).getTime();
                  if (Number.isFinite(t)) onChange({ ...state, range: { ...range, to: t } });
                }}
              />
            </>
          )}
        </span>
      )}
      <button type="submit" class="primary">
        {runLabel}
      </button>
    </form>
  );
}
