/**
 * The text part of a query: a plain substring (`grep`) and/or a regular expression, optionally case-insensitive.
 * Plain case-sensitive text is searched in the bytes (Buffer.indexOf), so most lines are never decoded; only a
 * regex or a case-insensitive search decodes the line.
 */
import { compileRegex, MAX_PATTERN_LENGTH } from './matchers.ts';
import { InvalidArgumentError } from '../../shared/errors.ts';

export interface LineFilterSpec {
  readonly grep?: string;
  readonly regex?: string;
  readonly ignoreCase?: boolean;
}

export interface LineFilter {
  matches(line: Buffer): boolean;
  /** Where the match is in a decoded line, for highlighting: [start, end) or undefined. */
  locate(line: string): [number, number] | undefined;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function compileLineFilter(spec: LineFilterSpec): LineFilter {
  if (spec.grep !== undefined && spec.grep.length > MAX_PATTERN_LENGTH) {
    throw new InvalidArgumentError(`grep text is longer than ${MAX_PATTERN_LENGTH} characters`);
  }
  const flags = spec.ignoreCase ? 'i' : '';
  const grepBytes = spec.grep && !spec.ignoreCase ? Buffer.from(spec.grep) : undefined;
  const grepRegex = spec.grep && spec.ignoreCase ? compileRegex(escapeRegex(spec.grep), 'i', 'grep text') : undefined;
  const regex = spec.regex !== undefined ? compileRegex(spec.regex, flags, 'regex') : undefined;
  const highlight =
    regex ?? grepRegex ?? (spec.grep ? compileRegex(escapeRegex(spec.grep), '', 'grep text') : undefined);
  return {
    matches(line: Buffer): boolean {
      if (grepBytes && line.indexOf(grepBytes) < 0) return false;
      if (!grepRegex && !regex) return true;
      const text = line.toString('utf8');
      return (!grepRegex || grepRegex.test(text)) && (!regex || regex.test(text));
    },
    locate(line: string): [number, number] | undefined {
      if (!highlight) return undefined;
      const match = highlight.exec(line);
      return match && match[0].length > 0 ? [match.index, match.index + match[0].length] : undefined;
    },
  };
}
