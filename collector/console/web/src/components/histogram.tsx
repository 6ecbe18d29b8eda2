/**
 * The volume histogram above the results: matching lines per interval (counted by the collector's volume route),
 * stacked by level. Dragging across it selects a time range and zooms into it.
 */
import { useRef, useState } from 'preact/hooks';
import { formatTime } from './log-line.tsx';

export interface VolumeAnswer {
  readonly start: number;
  readonly step_ms: number;
  readonly levels: readonly string[];
  readonly buckets: readonly { readonly start: number; readonly counts: Readonly<Record<string, number>> }[];
  readonly total: number;
  readonly partial: boolean;
}

const WIDTH = 1000;
const HEIGHT = 90;
const LEVEL_ORDER = ['fatal', 'error', 'warn', 'warning', 'info', 'debug', 'trace', ''];

function levelRank(level: string): number {
  const i = LEVEL_ORDER.indexOf(level.toLowerCase());
  return i < 0 ? LEVEL_ORDER.length - 1 : i;
}

interface Props {
  readonly volume: VolumeAnswer;
  readonly since: number;
  readonly until: number;
  readonly onZoom: (from: number, to: number) => void;
}

export function Histogram({ volume, since, until, onZoom }: Props) {
  const svg = useRef<SVGSVGElement>(null);
  const [drag, setDrag] = useState<{ x0: number; x1: number } | undefined>();
  const span = until - since;
  const xOf = (t: number) => ((t - since) / span) * WIDTH;
  const timeOf = (x: number) => since + (x / WIDTH) * span;
  const max = Math.max(1, ...volume.buckets.map((b) => Object.values(b.counts).reduce((a, n) => a + n, 0)));
  const levels = [...volume.levels].sort((a, b) => levelRank(a) - levelRank(b));
  const barWidth = Math.max(1, xOf(since + volume.step_ms) - 1);

  const toX = (event: PointerEvent) => {
    const rect = svg.current!.getBoundingClientRect();
    return Math.min(WIDTH, Math.max(0, ((event.clientX - rect.left) / rect.width) * WIDTH));
  };
  const onDown = (event: PointerEvent) => {
    (event.currentTarget as Element).setPointerCapture(event.pointerId);
    const x = toX(event);
    setDrag({ x0: x, x1: x });
  };
  const onMove = (event: PointerEvent) => {
    if (drag) setDrag({ ...drag, x1: toX(event) });
  };
  const onUp = (event: PointerEvent) => {
    if (!drag) return;
    const x1 = toX(event);
    setDrag(undefined);
    const [a, b] = drag.x0 < x1 ? [drag.x0, x1] : [x1, drag.x0];
    if (b - a >= 4) onZoom(Math.floor(timeOf(a)), Math.ceil(timeOf(b)));
  };

  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => since + f * span);
  return (
    <figure class="histogram" aria-label="volume histogram">
      <svg
        ref={svg}
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        preserveAspectRatio="none"
        onPointerDown={onDown}
        onPointerMove={onMove}
        onPointerUp={onUp}
        role="img"
        aria-label={`${volume.total} lines; drag to zoom`}
      >
        {volume.buckets.map((bucket) => {
          let y = HEIGHT;
          const total = Object.values(bucket.counts).reduce((a, n) => a + n, 0);
          if (total === 0) return null;
          return (
            <g key={bucket.start} class="bar">
              <title>{`${formatTime(bucket.start)}: ${total} lines`}</title>
              {levels.map((level) => {
                const n = bucket.counts[level] ?? 0;
                if (n === 0) return null;
                const h = (n / max) * (HEIGHT - 4);
                y -= h;
                return (
                  <rect
                    key={level}
                    class={`vol vol-${level.toLowerCase() || 'none'}`}
                    x={xOf(bucket.start)}
                    y={y}
                    width={barWidth}
                    height={h}
                  />
                );
              })}
            </g>
          );
        })}
        {drag && (
          <rect
            class="selection"
            x={Math.min(drag.x0, drag.x1)}
            y={0}
            width={Math.abs(drag.x1 - drag.x0)}
            height={HEIGHT}
          />
        )}
      </svg>
      <figcaption>
        {ticks.map((t) => (
          <span key={t}>{formatTime(t).slice(5, 19)}</span>
        ))}
      </figcaption>
      <div class="legend">
        {levels.map((level) => (
          <span key={level} class={`key vol-${level.toLowerCase() || 'none'}`}>
            {level || 'no level'}
          </span>
        ))}
        <span class="total">
          {volume.total.toLocaleString()} lines{volume.partial ? ' (partial: scan budget reached)' : ''}
        </span>
      </div>
    </figure>
  );
}
