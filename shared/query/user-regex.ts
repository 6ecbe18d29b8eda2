/**
 * The one entry point for a regular expression that comes from a client: query and tail text filters, label
 * matchers, the web console, the Kafka- or Loki-style APIs. Every such pattern goes through `compileUserRegex`.
 *
 * Contract: matching time is linear in the length of the input, whatever the pattern. The engine is re2js, a pure
 * JavaScript port of RE2 (Go's regexp): no backtracking, so `(a+)+$` against a long run of `a` costs one pass, not
 * 2^n (the freeze that any token with the read role could cause with V8's RegExp). The price is RE2 syntax: what
 * has no linear-time algorithm — backreferences (`\1`, `\k<name>`), lookahead and lookbehind — is refused with an
 * InvalidArgumentError that names the construct (a 400 on the API), never silently changed. Everything else a log
 * search uses is the same as in JavaScript: classes, `\d \w \s \b`, `{m,n}` (n ≤ 1000), named groups, `(?i)`.
 *
 * Why not the alternatives (docs/decisions.md, "Linear-time regexes"): V8's own linear engine needs a process flag
 * (`--enable-experimental-regexp-engine`); the native `re2` package downloads a prebuilt binary at install or
 * compiles RE2 and abseil from source, neither fit for an offline CI.
 */
import { RE2JS, RE2JSException } from 're2js';
import { InvalidArgumentError } from '../errors.ts';

/** The longest pattern accepted: a size every API that takes a client regex caps. */
export const MAX_PATTERN_LENGTH = 1024;

export interface UserRegexOptions {
  readonly ignoreCase?: boolean;
  /** The pattern must match the whole text (label matchers), not a part of it (line filters). */
  readonly whole?: boolean;
  /** `source` is plain text to find as it is (grep), not a pattern. */
  readonly literal?: boolean;
  /** What the pattern is, for error messages: "regex", "the matcher level=~". */
  readonly what: string;
}

/** A compiled client regex. Every method runs in time linear in `text`. */
export interface UserRegex {
  readonly source: string;
  /** True when the pattern matches `text` (anywhere in it, or all of it with `whole`). */
  test(text: string): boolean;
  /** The leftmost match as [start, end) in UTF-16 units of `text`, for highlighting; undefined when none. */
  locate(text: string): [number, number] | undefined;
}

/** Constructs RE2 rejects with a generic message, named here so the user learns why and what to do instead. */
function unsupportedConstruct(source: string): string | undefined {
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      const next = source[i + 1] ?? '';
      if (!inClass && (/[1-9]/.test(next) || next === 'k')) return 'backreferences (\\1, \\k<name>)';
      i++;
    } else if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') {
      inClass = true;
    } else if (c === '(' && /^\(\?<?[=!]/.test(source.slice(i, i + 4))) {
      return 'lookahead or lookbehind ((?=, (?!, (?<=, (?<!)';
    }
  }
  return undefined;
}

export function compileUserRegex(source: string, options: UserRegexOptions): UserRegex {
  const { what } = options;
  if (source.length > MAX_PATTERN_LENGTH) {
    throw new InvalidArgumentError(`${what} is ${source.length} characters long; at most ${MAX_PATTERN_LENGTH}`);
  }
  const unsupported = options.literal ? undefined : unsupportedConstruct(source);
  if (unsupported !== undefined) {
    throw new InvalidArgumentError(
      `${what} /${source}/ uses ${unsupported}, which a linear-time (RE2) regex cannot express; ` +
        'match the text itself instead, or filter in two steps',
    );
  }
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(
      options.literal ? RE2JS.quote(source) : source,
      options.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0,
    );
  } catch (error) {
    if (!(error instanceof RE2JSException)) throw error;
    const reason = error.message.replace(/^error parsing regexp: /, '');
    throw new InvalidArgumentError(`${what} /${source}/ is not a valid regular expression (RE2 syntax): ${reason}`);
  }
  const whole = options.whole === true;
  return {
    source,
    test: whole ? (text) => compiled.testExact(text) : (text) => compiled.test(text),
    locate(text) {
      const matcher = compiled.matcher(text);
      if (whole ? !matcher.matches() : !matcher.find()) return undefined;
      return [matcher.start(), matcher.end()];
    },
  };
}
