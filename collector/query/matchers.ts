/**
 * Label matchers, as in PromQL and LogQL: `name=value`, `name!=value`, `name=~regex`, `name!~regex`. A regex is
 * anchored (it must match the whole label value), and a missing label counts as the empty string, so
 * `level!=error` keeps records without a level. Pure functions: no I/O.
 */
import { InvalidArgumentError } from '../../shared/errors.ts';
import { compileUserRegex, type UserRegex } from '../../shared/query/user-regex.ts';
import type { Labels } from '../../shared/record.ts';

export type MatchOperator = '=' | '!=' | '=~' | '!~';

export interface LabelMatcher {
  readonly name: string;
  readonly op: MatchOperator;
  readonly value: string;
  readonly regex?: UserRegex;
}

const MATCHER_PATTERN = /^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$/s;

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
      `cannot read the label matcher ${JSON.stringify(text)}: write name=value, name!=value, name=~regex or name!~regex`,
    );
  }
  const [, name, op, raw] = match as unknown as [string, string, MatchOperator, string];
  const value = unquote(raw);
  if (op === '=~' || op === '!~') {
    return { name, op, value, regex: compileUserRegex(value, { whole: true, what: `the matcher ${name}${op}` }) };
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
