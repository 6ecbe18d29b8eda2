/**
 * Validation of every client-supplied name that may become part of a file path or a NATS subject: topics and
 * consumer groups (and the member and client ids of a group, which appear in KV keys and logs). A valid name is 1-200 characters of [A-Za-z0-9._-] and is neither '.' nor '..'; since '/',
 * '\\', NUL and every non-ASCII character (including look-alike unicode) are excluded, a valid name can never
 * escape the directory it is joined to.
 */
import { InvalidArgumentError } from './errors.ts';

export const MAX_NAME_LENGTH = 200;
const NAME_PATTERN = /^[A-Za-z0-9._-]{1,200}$/;

export function isValidName(name: unknown): name is string {
  return typeof name === 'string' && NAME_PATTERN.test(name) && name !== '.' && name !== '..';
}

function describeProblem(name: unknown): string {
  if (typeof name !== 'string') return `it is a ${name === null ? 'null' : typeof name}, not a string`;
  if (name.length === 0) return 'it is empty';
  if (name.length > MAX_NAME_LENGTH) return `it is ${name.length} characters long (at most ${MAX_NAME_LENGTH})`;
  if (name === '.' || name === '..') return `'${name}' is reserved`;
  const bad = [...name].find((ch) => !/[A-Za-z0-9._-]/.test(ch)) ?? '';
  const shown = bad === '\0' ? 'NUL' : JSON.stringify(bad);
  return `it contains ${shown}; only letters A-Z a-z, digits, '.', '_' and '-' are allowed`;
}

/** Throws InvalidArgumentError naming what is wrong unless `name` is a valid topic or group name. */
export function assertValidName(
  kind: 'topic' | 'group' | 'member id' | 'client id',
  name: unknown,
): asserts name is string {
  if (!isValidName(name)) {
    const shown = typeof name === 'string' ? JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}…` : name) : '';
    throw new InvalidArgumentError(`invalid ${kind} name ${shown}: ${describeProblem(name)}`);
  }
}
