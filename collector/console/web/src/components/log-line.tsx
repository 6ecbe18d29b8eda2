/**
 * One log line as a row: time, the labels as coloured chips, and the text with the matches of the text filter
 * highlighted. The colour of a chip is a hash of its label name, so `service=api` is the same colour everywhere.
 */
import type { ComponentChildren } from 'preact';
import { recordText, type WireRecord } from '../api.ts';
import { matchRanges, type SearchState } from '../search-state.ts';

/** Labels shown as chips on a row (path is long and shown in the detail). */
const ROW_LABELS_HIDDEN = new Set(['path']);

export function labelHue(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return h % 360;
}

export function formatTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function Chip({ name, value }: { name: string; value: string }) {
  return (
    <span class="chip" style={{ '--hue': String(labelHue(name)) }} title={`${name}=${value}`}>
      <span class="chip-name">{name}</span>
      {value}
    </span>
  );
}

export function Highlighted({
  text,
  filter,
}: {
  text: string;
  filter: Pick<SearchState, 'text' | 'regex' | 'caseSensitive'>;
}) {
  const ranges = matchRanges(text, filter);
  if (ranges.length === 0) return <>{text}</>;
  const parts: ComponentChildren[] = [];
  let at = 0;
  for (const [start, end] of ranges) {
    if (start > at) parts.push(text.slice(at, start));
    parts.push(<mark key={start}>{text.slice(start, end)}</mark>);
    at = end;
  }
  if (at < text.length) parts.push(text.slice(at));
  return <>{parts}</>;
}

interface LineProps {
  readonly record: WireRecord;
  readonly filter: Pick<SearchState, 'text' | 'regex' | 'caseSensitive'>;
  readonly selected?: boolean;
  readonly onOpen?: (record: WireRecord) => void;
}

export function LogLine({ record, filter, selected, onOpen }: LineProps) {
  const level = record.labels.level ?? '';
  return (
    <button
      type="button"
      class={`line level-${level.toLowerCase()}${selected ? ' selected' : ''}`}
      onClick={() => onOpen?.(record)}
    >
      <time>{formatTime(record.timestamp)}</time>
      <span class="chips">
        {Object.entries(record.labels)
          .filter(([name]) => !ROW_LABELS_HIDDEN.has(name))
          .map(([name, value]) => (
            <Chip key={name} name={name} value={value} />
          ))}
      </span>
      <span class="text">
        <Highlighted text={recordText(record)} filter={filter} />
      </span>
    </button>
  );
}
