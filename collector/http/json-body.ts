/** Validation of a JSON request body against its zod schema, with one error wording for every route. */
import type { z } from 'zod';
import { InvalidArgumentError } from '../../shared/errors.ts';

/** The parsed body, or InvalidArgumentError (400) naming the first field at fault: "invalid <what>: <field>: …". */
export function parseJsonBody<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    throw new InvalidArgumentError(`invalid ${what}: ${where}${issue.message}`);
  }
  return parsed.data;
}
