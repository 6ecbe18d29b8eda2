/**
 * How the query and tail commands print a record: `text` (time, labels, line; the match highlighted on a colour
 * terminal), `json` (one JSON object per line, as the API returns it) or `raw` (the line alone).
 */
export type RecordOutput = 'text' | 'json' | 'raw';

export interface WireHit {
  readonly topic?: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value?: string;
  readonly value_base64?: string;
  readonly fields?: Readonly<Record<string, unknown>>;
}

/** Colour only on a terminal, and never with NO_COLOR set (https://no-color.org). */
export function useColour(stream: NodeJS.WriteStream = process.stdout, env = process.env): boolean {
  return Boolean(stream.isTTY) && !('NO_COLOR' in env) && env.TERM !== 'dumb';
}

function lineOf(hit: WireHit): string {
  return hit.value ?? Buffer.from(hit.value_base64 ?? '', 'base64').toString('utf8');
}

export function formatHit(
  hit: WireHit,
  output: RecordOutput,
  colour: boolean,
  locate: (line: string) => [number, number] | undefined,
  /** Start the text line with the record's position (`topic[partition]@offset`), as consume does. */
  withPosition = false,
): string {
  if (output === 'json') return JSON.stringify(hit);
  const line = lineOf(hit).replace(/\r?\n$/, '');
  if (output === 'raw') return line;
  const time = `${withPosition ? `${positionOf(hit)} ` : ''}${new Date(hit.timestamp).toISOString()}`;
  const labels = Object.entries(hit.labels)
    .filter(([name]) => name !== 'path')
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  if (!colour) return `${time} ${labels} ${line}`;
  const at = locate(line);
  const shown = at ? `${line.slice(0, at[0])}\x1b[1;31m${line.slice(at[0], at[1])}\x1b[0m${line.slice(at[1])}` : line;
  return `\x1b[2m${time}\x1b[0m \x1b[36m${labels}\x1b[0m ${shown}`;
}

/** Where a record is, as kcat shows it: `topic[partition]@offset` (without a topic: `[partition]@offset`). */
export function positionOf(hit: WireHit): string {
  return `${hit.topic ?? ''}[${hit.partition}]@${hit.offset}`;
}

/**
 * A kcat-style format string (`-f`): %t topic, %p partition, %o offset, %T timestamp (ms), %k key, %s the line,
 * %l labels (name=value …), %f fields (JSON), %% a percent sign; \n and \t are a newline and a tab. The result
 * is printed as it is, so end the format with \n for one record per line.
 */
export function formatTemplate(hit: WireHit, template: string): string {
  return template.replace(/%[tpoTkslf%]|\\[nt\\]/g, (token) => {
    switch (token) {
      case '%t':
        return hit.topic ?? '';
      case '%p':
        return String(hit.partition);
      case '%o':
        return String(hit.offset);
      case '%T':
        return String(hit.timestamp);
      case '%k':
        return hit.key;
      case '%s':
        return lineOf(hit);
      case '%l':
        return Object.entries(hit.labels)
          .map(([name, value]) => `${name}=${value}`)
          .join(' ');
      case '%f':
        return JSON.stringify(hit.fields ?? {});
      case '%%':
        return '%';
      case '\\n':
        return '\n';
      case '\\t':
        return '\t';
      default:
        return '\\';
    }
  });
}
