/**
 * Tests that need a program this machine may lack (a server the test starts, a checker it runs). With the program:
 * the test, given what was found. Without it: under CI=true a test that fails naming what is missing (CI never
 * passes by skipping); elsewhere a skipped test whose title says why (ava lists it as skipped, never as passed).
 */
import test, { type ExecutionContext } from 'ava';

type Implementation<T> = (t: ExecutionContext, found: T) => void | Promise<void>;
type Declare<T> = (title: string, implementation: Implementation<T>) => void;

export function needs<T>(found: T | undefined, missing: string): { test: Declare<T>; serial: Declare<T> } {
  const declare =
    (kind: typeof test | typeof test.serial): Declare<T> =>
    (title, implementation) => {
      if (found !== undefined) kind(title, (t) => implementation(t, found));
      else if (process.env.CI === 'true') kind(title, (t) => t.fail(`${missing}: required under CI=true`));
      else kind.skip(`${title} (skipped: ${missing})`, () => {});
    };
  return { test: declare(test), serial: declare(test.serial) };
}
