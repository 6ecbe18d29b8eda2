/**
 * Required literals of a regular expression: strings such that every match contains at least one of them. The
 * query engine searches them in the raw bytes first (Buffer.indexOf), so batches and lines that cannot match are
 * skipped without decoding a single line; only candidates go through the regex itself.
 *
 * Soundness over cleverness: the extraction is conservative and gives up (undefined: no prefilter) rather than
 * guess. Per top-level alternative it takes the longest run of plain ASCII characters that every match of that
 * alternative must contain contiguously; groups, classes, escapes other than escaped punctuation, `.`, anchors and
 * quantified characters end a run. A case-insensitive regex (the `i` flag, or RE2's inline `(?i)`) has no prefilter. ASCII only, because an ASCII run in
 * the UTF-8-decoded line is the same run of bytes in the raw line (a decoder never turns invalid bytes into ASCII,
 * and never drops them).
 */

/** The shortest literal worth searching for: shorter ones pass nearly every line. */
export const MIN_LITERAL_LENGTH = 3;

/** RE2's inline flags, `(?i)abc` or `(?mi)`: from there on the case of the text is free. */
const INLINE_CASELESS = /\(\?[a-zA-Z-]*i/;

export function requiredLiterals(source: string, flags: string): string[] | undefined {
  if (flags.includes('i') || INLINE_CASELESS.test(source)) return undefined;
  const alternatives = splitTopLevel(source);
  if (alternatives === undefined) return undefined;
  const literals: string[] = [];
  for (const alternative of alternatives) {
    const literal = longestRequiredRun(alternative);
    if (literal === undefined || literal.length < MIN_LITERAL_LENGTH) return undefined;
    literals.push(literal);
  }
  return literals;
}

/** Splits on `|` outside groups and classes; undefined when the brackets do not balance. */
function splitTopLevel(source: string): string[] | undefined {
  const parts: string[] = [];
  let depth = 0;
  let inClass = false;
  let start = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      parts.push(source.slice(start, i));
      start = i + 1;
    }
    if (depth < 0) return undefined;
  }
  if (depth !== 0 || inClass) return undefined;
  parts.push(source.slice(start));
  return parts;
}

/** Index just past the group or class opening at `i` (which holds `(` or `[`). */
function skipBracketed(source: string, i: number): number {
  let depth = 0;
  let inClass = false;
  for (let j = i; j < source.length; j++) {
    const c = source[j];
    if (c === '\\') {
      j++;
      continue;
    }
    if (inClass) {
      if (c === ']') {
        inClass = false;
        if (depth === 0) return j + 1;
      }
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return j + 1;
  }
  return source.length;
}

function longestRequiredRun(alternative: string): string | undefined {
  let best = '';
  let run = '';
  const endRun = (): void => {
    if (run.length > best.length) best = run;
    run = '';
  };
  for (let i = 0; i < alternative.length; ) {
    const c = alternative[i]!;
    if (c === '(' || c === '[') {
      endRun();
      i = skipBracketed(alternative, i);
    } else if (c === '*' || c === '?' || c === '{') {
      // The preceding character may be absent (or repeated with a count we do not parse): not required.
      run = run.slice(0, -1);
      endRun();
      i = c === '{' ? alternative.indexOf('}', i) + 1 || alternative.length : i + 1;
      if (alternative[i] === '?') i++; // lazy
    } else if (c === '+') {
      // The preceding character is required, but what follows need not be adjacent to it.
      endRun();
      i++;
      if (alternative[i] === '?') i++;
    } else if (c === '\\') {
      const next = alternative[i + 1];
      // Escaped punctuation is that character; letters and digits are classes, assertions or codes.
      if (next !== undefined && /[!-/:-@[-`{-~]/.test(next)) run += next;
      else endRun();
      i += 2;
    } else if (c === '.' || c === '^' || c === '$' || c === '|' || c === ')' || c === ']' || c === '}') {
      endRun();
      i++;
    } else if (c >= ' ' && c <= '~') {
      run += c;
      i++;
    } else {
      endRun();
      i++;
    }
  }
  endRun();
  return best === '' ? undefined : best;
}
