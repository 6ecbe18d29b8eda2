/**
 * A small typed client of the collector's HTTP API v1 (docs/api.md): JSON calls, binary produce and fetch, bearer
 * token, several base URLs tried in order (the last one that answered is tried first next time). Error bodies
 * become the TributaryError subclass of their code, with the server's message; a collector that cannot be reached
 * is an UnavailableError. The CLI, consumers and producers are built on it. The bodies it sends and receives are
 * the types of wire-types.ts (re-exported here).
 */
import http from 'node:http';
import https from 'node:https';
import { InvalidArgumentError, UnavailableError } from '../errors.ts';
import { BATCH_CONTENT_TYPE, JSON_CONTENT_TYPE, NDJSON_CONTENT_TYPE } from '../wire.ts';
import { errorFromWire, parseWireError } from '../wire-errors.ts';
import type { Offset, PartitionId } from '../record.ts';
import type {
  WireTopic,
  CreateTopicRequest,
  ProduceRecord,
  ProduceResponse,
  FetchResponse,
  FetchBatchesResponse,
  WireCommittedOffset,
  CommitOffsetsRequest,
  JoinGroupRequest,
  JoinGroupResponse,
  WireGroupMembers,
} from './wire-types.ts';

export type * from './wire-types.ts';

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

export class CollectorClient {
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

  // Topics -------------------------------------------------------------------------------------------------------

  async listTopics(): Promise<WireTopic[]> {
    return (await this.json<{ topics: WireTopic[] }>('GET', '/v1/topics')).topics;
  }

  async createTopic(request: CreateTopicRequest): Promise<WireTopic> {
    return await this.json<WireTopic>('POST', '/v1/topics', { json: request });
  }

  async describeTopic(topic: string): Promise<WireTopic> {
    return await this.json<WireTopic>('GET', `/v1/topics/${encodeURIComponent(topic)}`);
  }

  async deleteTopic(topic: string): Promise<void> {
    await this.request('DELETE', `/v1/topics/${encodeURIComponent(topic)}`);
  }

  // Produce and fetch --------------------------------------------------------------------------------------------

  async produce(topic: string, records: readonly ProduceRecord[]): Promise<ProduceResponse> {
    const body = records.map((r) => JSON.stringify(r)).join('\n');
    return await this.json<ProduceResponse>('POST', `/v1/topics/${encodeURIComponent(topic)}/records`, {
      body: `${body}\n`,
      headers: { 'content-type': NDJSON_CONTENT_TYPE },
    });
  }

  /** Produces encoded batches (BatchBuilder.finish), concatenated, optionally gzip-encoded by the caller. */
  async produceBatches(topic: string, batches: Buffer, options: { gzip?: boolean } = {}): Promise<ProduceResponse> {
    return await this.json<ProduceResponse>('POST', `/v1/topics/${encodeURIComponent(topic)}/records`, {
      body: batches,
      headers: { 'content-type': BATCH_CONTENT_TYPE, ...(options.gzip ? { 'content-encoding': 'gzip' } : {}) },
    });
  }

  async fetch(
    topic: string,
    partition: PartitionId,
    offset: Offset,
    options: { maxBytes?: number; waitMs?: number; signal?: AbortSignal } = {},
  ): Promise<FetchResponse> {
    return await this.json<FetchResponse>('GET', fetchPath(topic, partition), {
      query: { offset, max_bytes: options.maxBytes, wait_ms: options.waitMs },
      extraTimeoutMs: options.waitMs ?? 0,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  async fetchBatches(
    topic: string,
    partition: PartitionId,
    offset: Offset,
    options: { maxBytes?: number; waitMs?: number; signal?: AbortSignal } = {},
  ): Promise<FetchBatchesResponse> {
    const res = await this.request('GET', fetchPath(topic, partition), {
      query: { offset, max_bytes: options.maxBytes, wait_ms: options.waitMs },
      headers: { accept: BATCH_CONTENT_TYPE },
      extraTimeoutMs: options.waitMs ?? 0,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const header = (name: string) => Number(res.headers.get(name) ?? Number.NaN);
    return {
      batches: res.body,
      nextOffset: header('tributary-next-offset'),
      startOffset: header('tributary-start-offset'),
      endOffset: header('tributary-end-offset'),
    };
  }

  /** One offset per partition: `earliest`, `latest`, or the first at or after a time (ms or ISO-8601). */
  async offsets(
    topic: string,
    at: 'earliest' | 'latest' | number | string,
  ): Promise<{ partition: PartitionId; offset: Offset }[]> {
    return (
      await this.json<{ partitions: { partition: PartitionId; offset: Offset }[] }>(
        'GET',
        `/v1/topics/${encodeURIComponent(topic)}/offsets`,
        { query: { at } },
      )
    ).partitions;
  }

  // Consumer groups ----------------------------------------------------------------------------------------------

  async listGroups(): Promise<string[]> {
    return (await this.json<{ groups: string[] }>('GET', '/v1/groups')).groups;
  }

  async groupOffsets(group: string): Promise<WireCommittedOffset[]> {
    return (await this.json<{ offsets: WireCommittedOffset[] }>('GET', `${groupPath(group)}/offsets`)).offsets;
  }

  async commitOffsets(group: string, request: CommitOffsetsRequest): Promise<void> {
    await this.request('POST', `${groupPath(group)}/offsets`, { json: request });
  }

  async joinGroup(group: string, request: JoinGroupRequest): Promise<JoinGroupResponse> {
    return await this.json<JoinGroupResponse>('POST', `${groupPath(group)}/members`, { json: request });
  }

  /** Throws RebalanceInProgressError (join again) or UnknownMemberError (join as a new member). */
  async heartbeat(group: string, memberId: string, generationId: number): Promise<void> {
    await this.request('POST', `${groupPath(group)}/members/${encodeURIComponent(memberId)}/heartbeat`, {
      json: { generation_id: generationId },
    });
  }

  async leaveGroup(group: string, memberId: string): Promise<void> {
    await this.request('DELETE', `${groupPath(group)}/members/${encodeURIComponent(memberId)}`);
  }

  async groupMembers(group: string): Promise<WireGroupMembers> {
    return await this.json<WireGroupMembers>('GET', `${groupPath(group)}/members`);
  }

  /** Sets the group's offsets to `earliest`, `latest` or a time (ms or ISO-8601); refused while it has members. */
  async resetGroupOffsets(
    group: string,
    to: 'earliest' | 'latest' | number | string,
    topics?: readonly string[],
  ): Promise<{ topic: string; partition: PartitionId; offset: Offset }[]> {
    const body = { to, ...(topics ? { topics } : {}) };
    return (
      await this.json<{ offsets: { topic: string; partition: PartitionId; offset: Offset }[] }>(
        'POST',
        `${groupPath(group)}/offsets/reset`,
        { json: body },
      )
    ).offsets;
  }

  async deleteGroup(group: string): Promise<void> {
    await this.request('DELETE', groupPath(group));
  }

  // Health -------------------------------------------------------------------------------------------------------

  async ready(): Promise<boolean> {
    try {
      await this.request('GET', '/readyz');
      return true;
    } catch (error) {
      if (error instanceof UnavailableError) return false;
      throw error;
    }
  }
}

function groupPath(group: string): string {
  return `/v1/groups/${encodeURIComponent(group)}`;
}

function fetchPath(topic: string, partition: PartitionId): string {
  return `/v1/topics/${encodeURIComponent(topic)}/partitions/${partition}/records`;
}
