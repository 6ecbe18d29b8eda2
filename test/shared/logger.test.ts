/** The shared logger: JSON lines, level filtering, and secrets redacted wherever a caller puts them. */
import test from 'ava';
import { Writable } from 'node:stream';
import { createLogger } from '../../shared/logger.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n'))
        if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream };
}

test('logger - JSON lines with level names, filtered by level', (t) => {
  const { lines, stream } = capture();
  const logger = createLogger({ level: 'info', name: 'collector', destination: stream });
  logger.debug('hidden');
  logger.info({ topic: 'app' }, 'shown');
  t.is(lines.length, 1);
  t.like(lines[0], { level: 'info', name: 'collector', topic: 'app', msg: 'shown' });
  t.regex(String(lines[0]!.time), /^\d{4}-\d{2}-\d{2}T/);
});

test('logger - authorization headers and tokens are redacted', (t) => {
  const { lines, stream } = capture();
  const logger = createLogger({ level: 'info', name: 'collector', destination: stream });
  const secret = 'sekret-token-value-0123456789';
  logger.info({ req: { headers: { authorization: `Bearer ${secret}` } } }, 'request');
  logger.info({ token: secret, collector: { token: secret }, tokens: [secret] }, 'config');
  logger.info({ headers: { authorization: secret } }, 'client');
  const text = JSON.stringify(lines);
  t.false(text.includes(secret));
  t.is(lines.length, 3);
  t.regex(text, /\[redacted\]/);
});
