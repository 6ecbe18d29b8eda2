/**
 * A list that draws only the rows in view (plus a margin), so 100,000 lines scroll as smoothly as 100. Rows have
 * one fixed height; the scroll area is sized for all of them. `onNearEnd` fires when the view comes within a few
 * screens of the end (to load the next page).
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

export const ROW_HEIGHT = 24;
/** Rows drawn beyond the view on each side: enough for a wheel step, few enough to keep a frame cheap. */
const OVERSCAN = 10;
/** Ask for the next page this many rows before the end. */
const NEAR_END_ROWS = 100;

interface Props {
  readonly count: number;
  readonly row: (index: number) => ComponentChildren;
  readonly onNearEnd?: () => void;
  readonly label: string;
}

export function VirtualList({ count, row, onNearEnd, label }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 600 });
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    let frame = 0;
    const measure = () => {
      frame = 0;
      setView({ top: el.scrollTop, height: el.clientHeight });
    };
    const onScroll = () => {
      if (!frame) frame = requestAnimationFrame(measure);
    };
    const resize = new ResizeObserver(onScroll);
    resize.observe(el);
    el.addEventListener('scroll', onScroll, { passive: true });
    measure();
    return () => {
      el.removeEventListener('scroll', onScroll);
      resize.disconnect();
      if (frame) cancelAnimationFrame(frame);
    };
  }, []);
  const first = Math.max(0, Math.floor(view.top / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(count, Math.ceil((view.top + view.height) / ROW_HEIGHT) + OVERSCAN);
  useEffect(() => {
    if (onNearEnd && count > 0 && last >= count - NEAR_END_ROWS) onNearEnd();
  }, [last, count, onNearEnd]);
  const rows = [];
  for (let i = first; i < last; i++) {
    rows.push(
      <div key={i} class="vrow" style={{ top: `${i * ROW_HEIGHT}px` }} data-index={i}>
        {row(i)}
      </div>,
    );
  }
  return (
    <div class="vlist" ref={box} data-list={label}>
      <div class="vlist-space" style={{ height: `${count * ROW_HEIGHT}px` }}>
        {rows}
      </div>
    </div>
  );
}
