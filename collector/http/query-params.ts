/** Parsing of the integer query and path parameters of the API, with errors that name the parameter. */
import { InvalidArgumentError } from '../../shared/errors.ts';

export function intParam(
  value: unknown,
  name: string,
  options: { min?: number; max?: number; default?: number } = {},
): number {
  if (value === undefined || value === '') {
    if (options.default !== undefined) return options.default;
    throw new InvalidArgumentError(`the parameter '${name}' is required`);
  }
  const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
  const min = options.min ?? 0;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new InvalidArgumentError(
      `the parameter '${name}' must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}
