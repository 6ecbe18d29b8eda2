/**
 * Produce over HTTP (docs/api.md): POST /v1/topics/{topic}/records with the concatenated batches as the body.
 * Several collector URLs give failover: a request that fails for a reason another collector might not share
 * (connection refused, timeout, 5xx) moves the next attempt to the next URL, round robin.
 *
 * Status handling:
 *   2xx                          ok
 *   408, 425, 429, 5xx           retry (honouring Retry-After), next URL for 5xx
 *   401, 403, 404                retry: a wrong token, role or missing topic is fixed by an operator, and until then
 *                                the lines wait on disk (the error is logged on every attempt by the shipper)
 *   other 4xx (400, 413, …)      reject: the request can never succeed as it is (a 413 of several batches is
 *                                split by the shipper first)
 */
import type { SendOutcome, Transport } from './transport.ts';
import { parseRetryAfter } from './retry.ts';

export interface HttpTransportOptions {
  readonly urls: readonly string[];
  readonly token?: string | undefined;
  readonly timeoutMs: number;
}

export const BATCH_CONTENT_TYPE = 'application/vnd.tributary.batch';

export class HttpTransport implements Transport {
  private readonly urls: readonly string[];
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private current = 0;

  constructor(options: HttpTransportOptions) {
    if (options.urls.length === 0) throw new RangeError('at least one collector URL is needed');
    this.urls = options.urls.map((u) => u.replace(/\/+$/, ''));
    this.headers = { 'content-type': BATCH_CONTENT_TYPE };
    if (options.token) this.headers.authorization = `Bearer ${options.token}`;
    this.timeoutMs = options.timeoutMs;
  }

  get target(): string {
    return this.urls[this.current]!;
  }

  async send(topic: string, body: Buffer): Promise<SendOutcome> {
    const base = this.urls[this.current]!;
    let response: Response;
    try {
      response = await fetch(`${base}/v1/topics/${encodeURIComponent(topic)}/records`, {
        method: 'POST',
        headers: this.headers,
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      this.failover();
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (error as Error).message;
      return { kind: 'retry', reason: `${base} unreachable: ${why}` };
    }
    const text = response.ok ? '' : await response.text().catch(() => '');
    if (response.ok) {
      // Drain the body so the connection is reused.
      await response.arrayBuffer().catch(() => undefined);
      return { kind: 'ok' };
    }
    const reason = `${base} answered ${response.status}: ${errorMessage(text)}`;
    const status = response.status;
    if (status === 408 || status === 425 || status === 429 || status >= 500) {
      if (status >= 500) this.failover();
      return { kind: 'retry', reason, retryAfterMs: parseRetryAfter(response.headers.get('retry-after')) };
    }
    if (status === 401 || status === 403 || status === 404) return { kind: 'retry', reason };
    return { kind: 'reject', reason, tooLarge: status === 413 };
  }

  async close(): Promise<void> {}

  private failover(): void {
    this.current = (this.current + 1) % this.urls.length;
  }
}

function errorMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (parsed.error?.message) return `${parsed.error.code ?? 'error'}: ${parsed.error.message}`;
  } catch {
    // not JSON: show the start of the text
  }
  return text.slice(0, 200) || '(no body)';
}
