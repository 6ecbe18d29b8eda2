/**
 * A small typed client of the collector's HTTP API v1 (docs/api.md): topics, JSON and binary produce and fetch,
 * offsets and groups, one method per route. The HTTP layer under it (failover across URLs, the token, timeouts,
 * error bodies as TributaryError subclasses) is http-session.ts. The CLI, consumers and producers are built on it.
 * The bodies it sends and receives are the types of wire-types.ts (re-exported here).
 */
import { UnavailableError } from '../errors.ts';
import { BATCH_CONTENT_TYPE, NDJSON_CONTENT_TYPE } from '../wire.ts';
import type { Offset, PartitionId } from '../record.ts';
import { type CollectorClientOptions, HttpSession, type RawResponse, type RequestOptions } from './http-session.ts';
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
export type { CollectorClientOptions, RawResponse, RequestOptions } from './http-session.ts';

/** The typed calls, one per route; `request` and `json` reach any other route the same way. */
export class CollectorClient {
  private readonly http: HttpSession;

  constructor(options: CollectorClientOptions) {
    this.http = new HttpSession(options);
  }

  /** One HTTP call; a non-2xx answer throws the TributaryError of its error body. */
  request(method: string, path: string, options: RequestOptions = {}): Promise<RawResponse> {
    return this.http.request(method, path, options);
  }

  /** One HTTP call whose answer is JSON (undefined for 204 or an empty body). */
  json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    return this.http.json<T>(method, path, options);
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
