/**
 * What a search is — topic, label matchers, text filter, time range — and its form in the page URL, so a link
 * reopens the same search for a colleague. Pure functions: no DOM, no fetch.
 *
 * URL parameters: `topic`, `q` (matchers as typed: `service="api", level=~"warn|error"`), `text`, `regex=1`
 * (the text is a regular expression), `case=1` (case-sensitive; the default ignores case), and either `range`
 * (a preset: 5m, 1h, 24h, 7d) or `from` / `to` (ISO-8601, an absolute range).
 */

export const RANGE_PRESETS = ['5m', '15m', '1h', '6h', '24h', '7d'] as const;
export type RangePreset = (typeof RANGE_PRESETS)[number];

const PRESET_MS: Record<RangePreset, number> = {
  '5m': 300_000,
  '15m': 900_000,
  '1h': 3_600_000,
  '6h': 21_600_000,
  '24h': 86_400_000,
  '7d': 604_800_000,
};

export type TimeRange =
  | { readonly kind: 'preset'; readonly preset: RangePreset }
  | { readonly kind: 'absolute'; readonly from: number; readonly to: number };

export interface SearchState {
  readonly topic: string;
  readonly matchers: string;
  readonly text: string;
  readonly regex: boolean;
  readonly caseSensitive: boolean;
  readonly range: TimeRange;
}

export const DEFAULT_RANGE: TimeRange = { kind: 'preset', preset: '1h' };

export function parseSearch(params: URLSearchParams): SearchState {
  const from = Date.parse(params.get('from') ?? '');
  const to = Date.parse(params.get('to') ?? '');
  const preset = params.get('range') as RangePreset | null;
  const range: TimeRange =
    Number.isFinite(from) && Number.isFinite(to) && from < to
      ? { kind: 'absolute', from, to }
      : preset && RANGE_PRESETS.includes(preset)
        ? { kind: 'preset', preset }
        : DEFAULT_RANGE;
  return {
    topic: params.get('topic') ?? '',
    matchers: params.get('q') ?? '',
    text: params.get('text') ?? '',
    regex: params.get('regex') === '1',
    caseSensitive: params.get('case') === '1',
    range,
  };
}

export function searchParams(state: SearchState): URLSearchParams {
  const p = new URLSearchParams();
  if (state.topic) p.set('topic', state.topic);
  if (state.matchers.trim()) p.set('q', state.matchers.trim());
  if (state.text) p.set('text', state.text);
  if (state.regex) p.set('regex', '1');
  if (state.caseSensitive) p.set('case', '1');
  if (state.range.kind === 'preset') p.set('range', state.range.preset);
  else {
    p.set('from', new Date(state.range.from).toISOString());
    p.set('to', new Date(state.range.to).toISOString());
  }
  return p;
}

/** The range as [since, until) in ms, resolving a preset against `now`. */
export function resolveRange(range: TimeRange, now: number): { since: number; until: number } {
  if (range.kind === 'absolute') return { since: range.from, until: range.to };
  return { since: now - PRESET_MS[range.preset], until: now };
}

/**
 * Splits the matcher text into the API's `where` values: commas separate matchers except inside quotes; outer
 * braces (`{service="api"}`, as in LogQL) are allowed. The collector validates each one.
 */
export function splitMatchers(text: string): string[] {
  let body = text.trim();
  if (body.startsWith('{') && body.endsWith('}')) body = body.slice(1, -1);
  const out: string[] = [];
  let current = '';
  let quote: string | undefined;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (quote) {
      if (c === '\\' && i + 1 < body.length) {
        current += c + body[++i];
        continue;
      }
      if (c === quote) quote = undefined;
      current += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      current += c;
    } else if (c === ',') {
      if (current.trim()) out.push(current.trim());
      current = '';
    } else current += c;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

/** The query's filter parameters for the API (query, tail, volume). */
export function filterParams(state: SearchState): Record<string, string | readonly string[] | boolean> {
  return {
    where: splitMatchers(state.matchers),
    ...(state.text ? (state.regex ? { regex: state.text } : { grep: state.text }) : {}),
    ignore_case: state.text !== '' && !state.caseSensitive,
  };
}

export type Completion =
  | { readonly kind: 'name'; readonly prefix: string; readonly start: number }
  | {
      readonly kind: 'value';
      readonly name: string;
      readonly op: string;
      readonly prefix: string;
      readonly start: number;
    };

/** What the text before the caret is in the middle of: a label name, or the value of a named label. */
export function completionAt(text: string, caret: number): Completion | undefined {
  const before = text.slice(0, caret);
  // the start of the current matcher: after the last comma or brace that is not inside quotes
  let start = 0;
  let quote: string | undefined;
  for (let i = 0; i < before.length; i++) {
    const c = before[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === ',' || c === '{') start = i + 1;
  }
  const part = before.slice(start);
  const name = /^\s*([A-Za-z_][A-Za-z0-9_.-]*)?$/.exec(part);
  if (name) return { kind: 'name', prefix: name[1] ?? '', start: start + part.length - (name[1] ?? '').length };
  const value = /^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*(=~|!~|!=|=)\s*(["']?)([^"']*)$/.exec(part);
  if (value) {
    const prefix = value[4]!;
    return {
      kind: 'value',
      name: value[1]!,
      op: value[2]!,
      prefix,
      start: start + part.length - prefix.length - value[3]!.length,
    };
  }
  return undefined;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The text with the completion applied at [start, caret): returns the new text and caret. */
export function applyCompletion(
  text: string,
  caret: number,
  completion: Completion,
  choice: string,
): { text: string; caret: number } {
  const insert =
    completion.kind === 'name'
      ? `${choice}=`
      : `"${(completion.op === '=~' || completion.op === '!~' ? escapeRegex(choice) : choice).replace(/"/g, '\\"')}"`;
  let after = text.slice(caret);
  if (completion.kind === 'value') after = after.replace(/^[^,}]*/, '');
  const next = text.slice(0, completion.start) + insert + after;
  return { text: next, caret: completion.start + insert.length };
}

/** Where a text filter matches a line, for highlighting: [start, end) pairs. */
export function matchRanges(line: string, state: Pick<SearchState, 'text' | 'regex' | 'caseSensitive'>) {
  const ranges: [number, number][] = [];
  if (!state.text) return ranges;
  let re: RegExp;
  try {
    re = new RegExp(state.regex ? state.text : escapeRegex(state.text), state.caseSensitive ? 'g' : 'gi');
  } catch {
    return ranges;
  }
  for (const m of line.matchAll(re)) {
    if (m[0].length === 0) break;
    ranges.push([m.index, m.index + m[0].length]);
    if (ranges.length >= 50) break;
  }
  return ranges;
}
