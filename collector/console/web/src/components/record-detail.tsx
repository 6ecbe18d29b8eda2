/**
 * The record opened from a row: where it is stored (partition, offset), its key, every label and parsed field,
 * its text, "copy as JSON", and "show context" — the lines before and after it from the same source (the
 * collector's context route). Esc or the close button closes it.
 */
import { useEffect, useState } from 'preact/hooks';
import { getJson, recordText, type WireRecord } from '../api.ts';
import { Chip, formatTime } from './log-line.tsx';

interface ContextAnswer {
  readonly before: readonly WireRecord[];
  readonly record: WireRecord;
  readonly after: readonly WireRecord[];
  readonly partial: boolean;
}

interface Props {
  readonly topic: string;
  readonly record: WireRecord;
  readonly onClose: () => void;
}

export function RecordDetail({ topic, record, onClose }: Props) {
  const [context, setContext] = useState<ContextAnswer | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    setContext(undefined);
    setError(undefined);
    setCopied(false);
  }, [record]);
  const json = JSON.stringify({ topic, ...record }, null, 2);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(json);
      setCopied(true);
    } catch {
      setError('the browser refused the clipboard: select the JSON below and copy it');
    }
  };
  const showContext = async () => {
    try {
      setContext(
        await getJson<ContextAnswer>(
          `/v1/topics/${encodeURIComponent(topic)}/partitions/${record.partition ?? 0}/context`,
          { offset: record.offset, before: 20, after: 20 },
        ),
      );
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <aside class="detail" aria-label="record">
      <header>
        <h2>Record</h2>
        <button type="button" class="close" onClick={onClose} title="Close (Esc)">
          ×
        </button>
      </header>
      <dl>
        <dt>time</dt>
        <dd>
          {formatTime(record.timestamp)} <small>({record.timestamp})</small>
        </dd>
        <dt>partition</dt>
        <dd data-field="partition">{record.partition ?? 0}</dd>
        <dt>offset</dt>
        <dd data-field="offset">{record.offset}</dd>
        <dt>key</dt>
        <dd data-field="key">{record.key || '(none)'}</dd>
        <dt>labels</dt>
        <dd class="chips">
          {Object.entries(record.labels).map(([name, value]) => (
            <Chip key={name} name={name} value={value} />
          ))}
        </dd>
        {record.fields && (
          <>
            <dt>fields</dt>
            <dd>
              <table class="fields">
                <tbody>
                  {Object.entries(record.fields).map(([name, value]) => (
                    <tr key={name}>
                      <th>{name}</th>
                      <td>{value}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </dd>
          </>
        )}
      </dl>
      <pre class="value">{recordText(record)}</pre>
      <div class="actions">
        <button type="button" onClick={copy}>
          {copied ? 'Copied' : 'Copy as JSON'}
        </button>
        <button type="button" onClick={showContext}>
          Show context
        </button>
      </div>
      {error && <p class="error">{error}</p>}
      {context && (
        <section class="context" aria-label="context">
          <h3>
            Context from {record.key || 'this source'}
            {context.partial ? ' (partial)' : ''}
          </h3>
          <ol>
            {[...context.before, context.record, ...context.after].map((r) => (
              <li key={r.offset} class={r.offset === record.offset ? 'current' : ''}>
                <time>{formatTime(r.timestamp).slice(11)}</time> {recordText(r)}
              </li>
            ))}
          </ol>
        </section>
      )}
      <details>
        <summary>JSON</summary>
        <pre>{json}</pre>
      </details>
    </aside>
  );
}
