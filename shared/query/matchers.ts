/**
 * Matchers, as in PromQL and LogQL: `name=value`, `name!=value`, `name=~regex`, `name!~regex`, plus the numeric
 * comparisons `name>n`, `name>=n`, `name<n`, `name<=n`.
 *
 * A plain name is a label of the record's source (host, service, path, the agent's labels): it is decided once per
 * batch, from the batch header. A name `field.NAME` is a field the agent's parser (json, logfmt) extracted from the
 * line: it is decided per record. A regex is anchored (it must match the whole value) and runs in linear time
 * (shared/query/user-regex.ts). A missing label or field counts as the empty string, so `level!=error` keeps
 * records without a level, as in Prometheus and Loki; a numeric comparison is false for a missing or non-numeric
 * value. Pure functions: no I/O.
 */
import { InvalidArgumentError } from '../errors.ts';
import { compileUserRegex, type UserRegex } from './user-regex.ts';
import type { Fields, Labels } from '../record.ts';

export type MatchOperator = '=' | '!=' | '=~' | '!~' | '>' | '>=' | '<' | '<=';

/** What a matcher looks at: a label of the batch's source, or a parsed field of each record. */
export type MatchTarget = 'label' | 'field';

export interface LabelMatcher {
  readonly target: MatchTarget;
  /** The label or field name (without the `field.` prefix). */
  readonly name: string;
  readonly op: MatchOperator;
  readonly value: string;
  readonly regex?: UserRegex;
  /** The number a comparison operator compares with. */
  readonly number?: number;
}

/** The prefix that makes a matcher look at a parsed field instead of a label. */
export const FIELD_PREFIX = 'field.';

const MATCHER_PATTERN = /^\s*([A-Za-z_@][A-Za-z0-9_.@-]*)\s*(=~|!~|!=|>=|<=|=|>|<)\s*(.*?)\s*$/s;

function unquote(value: string): string {
  if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0]) {
    return value.slice(1, -1);
  }
  return value;
}

export function parseMatcher(text: string): LabelMatcher {
  const match = MATCHER_PATTERN.exec(text);
  if (!match) {
    throw new InvalidArgumentError(
      `cannot read the matcher ${JSON.stringify(text)}: write name=value, name!=value, name=~regex, name!~regex ` +
        `or a comparison name>n (name: a label, or field.NAME for a parsed field)`,
    );
  }
  const [, written, op, raw] = match as unknown as [string, string, MatchOperator, string];
  const isField = written.startsWith(FIELD_PREFIX) && written.length > FIELD_PREFIX.length;
  const target: MatchTarget = isField ? 'field' : 'label';
  const name = isField ? written.slice(FIELD_PREFIX.length) : written;
  const value = unquote(raw);
  if (op === '=~' || op === '!~') {
    return {
      target,
      name,
      op,
      value,
      regex: compileUserRegex(value, { whole: true, what: `the matcher ${written}${op}` }),
    };
  }
  if (op === '>' || op === '>=' || op === '<' || op === '<=') {
    const number = toNumber(value);
    if (number === undefined) {
      throw new InvalidArgumentError(
        `the matcher ${written}${op} compares numbers; ${JSON.stringify(value)} is not one`,
      );
    }
    return { target, name, op, value, number };
  }
  return { target, name, op, value };
}

function toNumber(text: string): number | undefined {
  if (text.trim() === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

function matchesOne(m: LabelMatcher, present: boolean, actual: string): boolean {
  switch (m.op) {
    case '=':
      return actual === m.value;
    case '!=':
      return actual !== m.value;
    case '=~':
      return m.regex!.test(actual);
    case '!~':
      return !m.regex!.test(actual);
    default: {
      const n = present ? toNumber(actual) : undefined;
      if (n === undefined) return false;
      const limit = m.number!;
      return m.op === '>' ? n > limit : m.op === '>=' ? n >= limit : m.op === '<' ? n < limit : n <= limit;
    }
  }
}

/** The label matchers of `matchers` against a batch's labels (field matchers are ignored here). */
export function matchesLabels(labels: Labels, matchers: readonly LabelMatcher[]): boolean {
  for (const m of matchers) {
    if (m.target !== 'label') continue;
    const present = Object.hasOwn(labels, m.name);
    if (!matchesOne(m, present, present ? labels[m.name]! : '')) return false;
  }
  return true;
}

/** The field matchers of `matchers` against one record's parsed fields (label matchers are ignored here). */
export function matchesFields(fields: Fields | undefined, matchers: readonly LabelMatcher[]): boolean {
  for (const m of matchers) {
    if (m.target !== 'field') continue;
    const present = fields !== undefined && Object.hasOwn(fields, m.name);
    if (!matchesOne(m, present, present ? fieldText(fields[m.name]) : '')) return false;
  }
  return true;
}

/** A field's value as the text matchers compare: strings as they are, other JSON values as their JSON. */
export function fieldText(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}
