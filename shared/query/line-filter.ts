/**
 * The text part of a query: a plain substring (`grep`) and/or a regular expression, optionally case-insensitive.
 * Plain case-sensitive text is searched in the bytes (Buffer.indexOf), so most lines are never decoded. A regex is
 * prefiltered the same way by its required literals (regex-literals.ts) when it has some; only candidate lines are
 * decoded and tested. The same byte search runs over a whole uncompressed batch first (`mayMatch`), so a batch
 * without any candidate is skipped without being split into records.
 */
import { compileUserRegex } from './user-regex.ts';
import { MIN_LITERAL_LENGTH, requiredLiterals } from './regex-literals.ts';

export interface LineFilterSpec {
  readonly grep?: string;
  readonly regex?: string;
  readonly ignoreCase?: boolean;
}

export interface LineFilter {
  /** False only when no line inside `bytes` (raw, uncompressed record bytes) can match. */
  mayMatch(bytes: Buffer): boolean;
  matches(line: Buffer): boolean;
  /** Where the match is in a decoded line, for highlighting: [start, end) or undefined. */
  locate(line: string): [number, number] | undefined;
}

export function compileLineFilter(spec: LineFilterSpec): LineFilter {
  const ignoreCase = spec.ignoreCase === true;
  const grepBytes = spec.grep && !ignoreCase ? Buffer.from(spec.grep) : undefined;
  const grepRegex = spec.grep
    ? compileUserRegex(spec.grep, { literal: true, ignoreCase, what: 'grep text' })
    : undefined;
  const regex = spec.regex !== undefined ? compileUserRegex(spec.regex, { ignoreCase, what: 'regex' }) : undefined;
  const highlight = regex ?? grepRegex;
  const required = spec.regex !== undefined ? requiredLiterals(spec.regex, ignoreCase ? 'i' : '') : undefined;
  let literals = required?.map((l) => Buffer.from(l));
  let tuned = false;
  const hasLiteral = (bytes: Buffer): boolean => literals === undefined || literals.some((l) => bytes.indexOf(l) >= 0);
  return {
    mayMatch(bytes: Buffer): boolean {
      if (!tuned && required !== undefined) {
        literals = required.map((l) => Buffer.from(rarestNeedle(l, byteFrequencies(bytes))));
        tuned = true;
      }
      return (!grepBytes || bytes.indexOf(grepBytes) >= 0) && hasLiteral(bytes);
    },
    matches(line: Buffer): boolean {
      if (grepBytes && line.indexOf(grepBytes) < 0) return false;
      if (!hasLiteral(line)) return false;
      const caseless = ignoreCase ? grepRegex : undefined;
      if (!caseless && !regex) return true;
      const text = line.toString('utf8');
      return (!caseless || caseless.test(text)) && (!regex || regex.test(text));
    },
    locate(line: string): [number, number] | undefined {
      const match = highlight?.locate(line);
      return match && match[1] > match[0] ? match : undefined;
    },
  };
}

const SAMPLE_BYTES = 256 * 1024;

function byteFrequencies(bytes: Buffer): Uint32Array {
  const counts = new Uint32Array(256);
  const end = Math.min(bytes.length, SAMPLE_BYTES);
  for (let i = 0; i < end; i++) counts[bytes[i]!]!++;
  return counts;
}

/**
 * Any substring of a required literal is required too; which one to search for decides the speed. Buffer.indexOf
 * scans for the needle's first byte and verifies from there, so it runs several times faster when that byte is rare
 * in the data ("99999" rather than "id=99999" in lines that all hold "id="). The rarity is sampled from the first
 * bytes the query reads; the needle keeps at least MIN_LITERAL_LENGTH characters and, among equally rare starts,
 * the longest.
 */
function rarestNeedle(literal: string, frequencies: Uint32Array): string {
  let best = 0;
  for (let k = 1; k <= literal.length - MIN_LITERAL_LENGTH; k++) {
    if (frequencies[literal.charCodeAt(k)]! < frequencies[literal.charCodeAt(best)]!) best = k;
  }
  return literal.slice(best);
}
