/**
 * The refresh loop of the pages that show the collector's state (topics, groups): load now and every `intervalMs`
 * while the page is shown, hand each answer to `show` and each failure's message to `fail` (undefined after a
 * success), and ignore answers that arrive after the page is gone. Starts over when `deps` change.
 */
import { useEffect } from 'preact/hooks';

export function usePolling<T>(
  load: () => Promise<T>,
  show: (answer: T) => void,
  fail: (message: string | undefined) => void,
  intervalMs: number,
  deps: readonly unknown[],
): void {
  useEffect(() => {
    let stopped = false;
    const refresh = async () => {
      try {
        const answer = await load();
        if (stopped) return;
        show(answer);
        fail(undefined);
      } catch (e) {
        if (!stopped) fail((e as Error).message);
      }
    };
    void refresh();
    const timer = setInterval(refresh, intervalMs);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, deps);
}
