/**
 * Label matchers, as in PromQL and LogQL: `name=value`, `name!=value`, `name=~regex`, `name!~regex`. A regex is
 * anchored (it must match the whole label value), and a missing label counts as the empty string, so
 * `level!=error` keeps records without a level. Pure functions: no I/O.
 */
import { InvalidArgumentError } from '../../shared/errors.ts';
import type { Labels } from '../../shared/record.ts';

export type MatchOperator = '=' | '!=' | '=~' | '!~';

export interface LabelMatcher {
  readonly name: string;
  readonly op: MatchOperator;
  readonly value: string;
  readonly regex?: RegExp;
}

const MATCHER_PATTERN = /^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$/s;
export const MAX_PATTERN_LENGTH = 1024;

function unquote(value: string): string {
  if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0]) {
    return value.slice(1, -1);
  }
  return value;
}

/** Compiles a user-given regular expression, naming the problem instead of throwing SyntaxError. */
export function compileRegex(source: string, flags: string, what: string): RegExp {
  if (source.length > MAX_PATTERN_LENGTH) {
    throw new InvalidArgumentError(`${what} is ${source.length} characters long; at most ${MAX_PATTERN_LENGTH}`);
  }
  try {
    return new RegExp(source, flags);
  } catch (error) {
    throw new InvalidArgumentError(
      `${what} /${source}/ is not a valid regular expression: ${(error as Error).message}`,
    );
  }
}

export function parseMatcher(text: string): LabelMatcher {
  const match = MATCHER_PATTERN.exec(text);
  if (!match) {
    throw new InvalidArgumentError(
      `cannot read the label matcher ${JSON.stringify(text)}: write name=value, name!=value, name=~regex or name!~regex`,
    );
  }
  const [, name, op, raw] = match as unknown as [string, string, MatchOperator, string];
  const value = unquote(raw);
  if (op === '=~' || op === '!~') {
    return { name, op, value, regex: compileRegex(`^(?:${value})$`, '', `the matcher ${name}${op}`) };
  }
  return { name, op, value };
}

export function matchesLabels(labels: Labels, matchers: readonly LabelMatcher[]): boolean {
  for (const m of matchers) {
    const actual = Object.hasOwn(labels, m.name) ? labels[m.name]! : '';
    let ok: boolean;
    switch (m.op) {
      case '=':
        ok = actual === m.value;
        break;
      case '!=':
        ok = actual !== m.value;
        break;
      case '=~':
        ok = m.regex!.test(actual);
        break;
      case '!~':
        ok = !m.regex!.test(actual);
        break;
    }
    if (!ok) return false;
  }
  return true;
}
