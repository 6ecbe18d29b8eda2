/**
 * Produce over HTTP (docs/api.md): POST /v1/topics/{topic}/records with the concatenated batches as the body.
 * Several collector URLs give failover: a request that fails for a reason another collector might not share
 * (connection refused, timeout, 5xx) moves the next attempt to the next URL, round robin.
 * What each answer means is outcomeOfAnswer's table (transport.ts); a 5xx also moves the next attempt to the next
 * URL.
 */
import { parseRetryAfter } from '../../shared/backoff.ts';
import { BATCH_CONTENT_TYPE } from '../../shared/wire.ts';
import { outcomeOfAnswer, type SendOutcome, type Transport } from './transport.ts';

export interface HttpTransportOptions {
  readonly urls: readonly string[];
  readonly token?: string | undefined;
  readonly timeoutMs: number;
}

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
    if (response.ok) {
      // Drain the body so the connection is reused.
      await response.arrayBuffer().catch(() => undefined);
      return { kind: 'ok' };
    }
    if (response.status >= 500) this.failover();
    const text = await response.text().catch(() => '');
    return outcomeOfAnswer(response.status, base, text, parseRetryAfter(response.headers.get('retry-after')));
  }

  async close(): Promise<void> {}

  private failover(): void {
    this.current = (this.current + 1) % this.urls.length;
  }
}
