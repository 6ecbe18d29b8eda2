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
 * Linear is not cheap: the time is the text's length times the size of the compiled program, and counted repetitions
 * multiply that size (`(?:a?){1000}a{1000}` compiles to thousands of instructions). RE2 runs a lazy DFA while its
 * states fit in a memory budget and falls back to the NFA, one step per instruction per byte, when they do not:
 * measured here, that pattern took 40 s on one 1 MiB line, all of it on the event loop. So a match whose worst case
 * (length × program size) is more than UNGUARDED_COST runs under a watchdog (node:vm's timeout, which interrupts
 * the running JavaScript whatever realm it belongs to) and gives up after MATCH_LIMIT_MS with an
 * InvalidArgumentError that says why; cheaper matches, nearly all of them, are called directly (the watchdog costs
 * about 80 µs a call).
 *
 * Why not the alternatives (docs/decisions.md, "Linear-time regexes"): V8's own linear engine needs a process flag
 * (`--enable-experimental-regexp-engine`); the native `re2` package downloads a prebuilt binary at install or
 * compiles RE2 and abseil from source, neither fit for an offline CI.
 */
import vm from 'node:vm';
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

/** The longest one match may hold the event loop. */
export const MATCH_LIMIT_MS = 50;

/**
 * Text length × program size above which a match runs under the watchdog: the NFA's worst case for this cost is
 * about 15 ms here (13 ns per byte and instruction).
 */
const UNGUARDED_COST = 1_000_000;

const watchdog = vm.createContext({ run: (match: () => unknown) => match(), match: () => undefined });
const watched = new vm.Script('run(match)');

/** Runs `match` with the watchdog: its result, or undefined when it ran out of time (it was interrupted). */
function withinLimit<T>(match: () => T): T | undefined {
  watchdog.match = match;
  try {
    return watched.runInContext(watchdog, { timeout: MATCH_LIMIT_MS }) as T;
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') return undefined;
    throw error;
  } finally {
    watchdog.match = () => undefined;
  }
}

/** A compiled client regex. Every method runs in time linear in `text`, and never longer than MATCH_LIMIT_MS. */
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
  const compile = () =>
    RE2JS.compile(options.literal ? RE2JS.quote(source) : source, options.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
  let compiled: RE2JS;
  try {
    compiled = compile();
  } catch (error) {
    if (!(error instanceof RE2JSException)) throw error;
    const reason = error.message.replace(/^error parsing regexp: /, '');
    throw new InvalidArgumentError(`${what} /${source}/ is not a valid regular expression (RE2 syntax): ${reason}`);
  }
  const whole = options.whole === true;
  const size = compiled.programSize();
  /**
   * Runs `match` on `text`, under the watchdog when its worst case is long. Out of time: `outOfTime`'s answer, after
   * a fresh compile (interrupted midway, the engine's lazily built state may be half made).
   */
  const bounded = <T>(text: string, match: (re: RE2JS) => T, outOfTime: () => T): T => {
    if (text.length * size <= UNGUARDED_COST) return match(compiled);
    const result = withinLimit(() => ({ value: match(compiled) }));
    if (result !== undefined) return result.value;
    compiled = compile();
    return outOfTime();
  };
  const tooSlow = (text: string): never => {
    throw new InvalidArgumentError(
      `${what} /${source}/ took more than ${MATCH_LIMIT_MS} ms on one text of ${text.length} characters, and was ` +
        `stopped: it compiles to ${size} instructions, and a match can cost each character against each of them. ` +
        'Simplify it (counted repetitions such as {1000} multiply its size), or narrow the query with matchers ' +
        'and a time range',
    );
  };
  return {
    source,
    test: (text) =>
      bounded(
        text,
        (re) => (whole ? re.testExact(text) : re.test(text)),
        () => tooSlow(text),
      ),
    // Where a match is costs more than whether there is one (the NFA, to know where it starts): a text whose
    // highlight runs out of time is shown without one rather than not at all.
    locate: (text) =>
      bounded(
        text,
        (re): [number, number] | undefined => {
          const matcher = re.matcher(text);
          if (whole ? !matcher.matches() : !matcher.find()) return undefined;
          return [matcher.start(), matcher.end()];
        },
        () => undefined,
      ),
  };
}
