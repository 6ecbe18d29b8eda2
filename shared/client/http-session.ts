/**
 * One collector's HTTP API as requests and answers, below the typed calls of CollectorClient (collector-client.ts):
 * failover across base URLs, the token, timeouts, node:http(s) keep-alive connections, and error answers as typed
 * errors. Nothing here knows a route.
 */
import http from 'node:http';
import https from 'node:https';
import { InvalidArgumentError, UnavailableError } from '../errors.ts';
import { JSON_CONTENT_TYPE } from '../wire.ts';
import { errorFromWire, parseWireError } from '../wire-errors.ts';

export interface CollectorClientOptions {
  /** One base URL or several (tried in order when one cannot be reached). */
  readonly urls: string | readonly string[];
  readonly token?: string | undefined;
  /** Per request, long-poll waits excluded (they are added to it). Default 30 s. */
  readonly timeoutMs?: number;
}

export interface RequestOptions {
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  readonly json?: unknown;
  readonly body?: Buffer | string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  /** Extra time allowed beyond the client's timeout (long-polls). */
  readonly extraTimeoutMs?: number;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
}

/**
 * The HTTP layer under CollectorClient: one base URL or several, tried in order (the last one that answered is
 * tried first next time), the bearer token, the per-request timeout, keep-alive connections, and error bodies turned
 * into the TributaryError of their code (a collector that cannot be reached is an UnavailableError).
 */
export class HttpSession {
  private readonly urls: readonly string[];
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private preferred = 0;
  private httpAgent: http.Agent | undefined;
  private httpsAgent: https.Agent | undefined;

  constructor(options: CollectorClientOptions) {
    const urls = typeof options.urls === 'string' ? [options.urls] : [...options.urls];
    if (urls.length === 0) throw new InvalidArgumentError('give the collector URL (--url or TRIBUTARY_URL)');
    this.urls = urls.map((u) => {
      try {
        const parsed = new URL(u);
        if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
      } catch {
        throw new InvalidArgumentError(`invalid collector URL ${JSON.stringify(u)}: use e.g. http://127.0.0.1:7070`);
      }
      return u.replace(/\/+$/, '');
    });
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** One HTTP call; a non-2xx answer throws the TributaryError of its error body. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<RawResponse> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let body: Buffer | string | undefined = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] = JSON_CONTENT_TYPE;
    }
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) query.set(k, String(v));
    const suffix = `${path}${query.size > 0 ? `?${query}` : ''}`;
    let lastError: unknown;
    for (let i = 0; i < this.urls.length; i++) {
      const index = (this.preferred + i) % this.urls.length;
      const base = this.urls[index]!;
      const timeout = AbortSignal.timeout(this.timeoutMs + (options.extraTimeoutMs ?? 0));
      const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
      let res: RawResponse;
      try {
        res = await this.exchange(new URL(`${base}${suffix}`), method, headers, body, signal);
      } catch (error) {
        if (options.signal?.aborted) throw error;
        lastError = error;
        continue; // next URL
      }
      this.preferred = index;
      const bytes = res.body;
      if (res.status >= 200 && res.status < 300) return res;
      throw errorFromWire(res.status, parseWireError(bytes.toString('utf8'), `HTTP ${res.status} from ${base}${path}`));
    }
    const cause = lastError as Error & { cause?: Error };
    throw new UnavailableError(
      `cannot reach the collector at ${this.urls.join(', ')}: ${cause?.cause?.message ?? cause?.message ?? 'no answer'}`,
      { cause: lastError },
    );
  }

  /**
   * One request and its whole answer, over node:http(s) with keep-alive connections. Not the global fetch: reading
   * 4 MiB fetch answers, undici's body streams made the client, not the collector, the bottleneck (about half the
   * throughput of node:http on this machine; docs/benchmarks.md).
   */
  private exchange(
    url: URL,
    method: string,
    headers: Record<string, string>,
    body: Buffer | string | undefined,
    signal: AbortSignal,
  ): Promise<RawResponse> {
    const secure = url.protocol === 'https:';
    if (secure) this.httpsAgent ??= new https.Agent({ keepAlive: true });
    else this.httpAgent ??= new http.Agent({ keepAlive: true });
    const agent = secure ? this.httpsAgent : this.httpAgent;
    const send = secure ? https.request : http.request;
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    return new Promise((resolve, reject) => {
      const request = send(url, { method, headers, agent, signal }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.once('error', reject);
        response.once('close', () => {
          if (!response.complete) reject(new Error('the connection closed before the whole answer arrived'));
        });
        response.once('end', () => {
          const answer = new Headers();
          for (const [name, value] of Object.entries(response.headers)) {
            if (value !== undefined) answer.set(name, Array.isArray(value) ? value.join(', ') : value);
          }
          resolve({
            status: response.statusCode ?? 0,
            headers: answer,
            body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks),
          });
        });
      });
      request.once('error', reject);
      request.end(body);
    });
  }

  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, options);
    if (res.status === 204 || res.body.length === 0) return undefined as T;
    return JSON.parse(res.body.toString('utf8')) as T;
  }
}
