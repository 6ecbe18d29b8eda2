/**
 * The checks the JetStream backend makes at start, before it creates anything, so that a collector configured
 * unlike its cluster or its peers says so with the reason instead of silently making streams that do not match.
 *
 * - Cluster size: the servers the connected server advertises (INFO `connect_urls`, which lists every server of
 *   its cluster, itself included; a lower bound while a server is down). A server without a `cluster` is alone.
 *   - `storage.replicas` above 1 on a server that is alone: refused (JetStream cannot place the copies).
 *   - `storage.replicas` above the servers seen in a cluster: warned (streams cannot be created until enough
 *     servers are up).
 *   - `storage.replicas` below the cluster size: warned (an acknowledged batch lives on fewer servers than there
 *     are; a lost disk loses it).
 * - Existing buckets whose replica count differs from `storage.replicas`: refused, naming the bucket and its
 *   count (the collectors of one deployment must agree; the remedy is in the message). Existing topic streams
 *   that differ: warned, a few named (they keep their count; only new topics get the configured one).
 */
import type { JetStreamManager, NatsConnection, StreamInfo } from 'nats';
import { ConfigError } from '../../../shared/errors.ts';
import type { Logger } from '../../../shared/logger.ts';
import { BUCKETS, bucketStream, STREAM_PREFIX } from './names.ts';

/** What the store learned about its NATS servers at start (startup log, `--print-config`, describe). */
export interface ClusterFacts {
  /** The JetStream cluster's name; undefined: a single server without a cluster. */
  readonly cluster: string | undefined;
  /** Servers of the cluster seen at start (1 for a single server). */
  readonly clusterSize: number;
  /** The server this collector is connected to (its server_name). */
  readonly connectedTo: string;
  /** The servers' max_payload: the largest append this backend can store. */
  readonly maxPayload: number;
}

export function clusterFacts(nc: NatsConnection): ClusterFacts {
  const info = nc.info;
  const cluster = info?.cluster;
  const urls = new Set(info?.connect_urls ?? []);
  return {
    cluster,
    clusterSize: cluster === undefined ? 1 : Math.max(1, urls.size),
    connectedTo: info?.server_name ?? nc.getServer(),
    maxPayload: info?.max_payload ?? 1024 * 1024,
  };
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && /not found/i.test(error.message);
}

export async function checkCluster(
  nc: NatsConnection,
  jsm: JetStreamManager,
  replicas: number,
  servers: string,
  logger: Logger,
): Promise<ClusterFacts> {
  const facts = clusterFacts(nc);
  if (facts.cluster === undefined && replicas > 1) {
    throw new ConfigError(
      `storage.replicas is ${replicas}, but ${servers} is a single server, not a cluster: JetStream cannot keep ` +
        `${replicas} copies. Set storage.replicas: 1, or run a cluster of ${replicas} servers (deploy/nats/, ` +
        'docs/scaling.md)',
    );
  }
  if (replicas > facts.clusterSize) {
    logger.warn(
      { replicas, clusterSize: facts.clusterSize, cluster: facts.cluster },
      `storage.replicas is ${replicas} but only ${facts.clusterSize} servers of cluster ${facts.cluster} are up: ` +
        'topics cannot be created until enough servers are back',
    );
  } else if (replicas < facts.clusterSize) {
    logger.warn(
      { replicas, clusterSize: facts.clusterSize, cluster: facts.cluster },
      `storage.replicas is ${replicas} on a cluster of ${facts.clusterSize} servers: the streams and buckets this ` +
        `collector creates keep ${replicas} ${replicas === 1 ? 'copy' : 'copies'}, so losing ` +
        `${replicas === 1 ? 'that server' : 'those servers'} loses acknowledged records. ` +
        `Set storage.replicas: ${Math.min(3, facts.clusterSize)} (docs/scaling.md)`,
    );
  }
  for (const bucket of BUCKETS) {
    let info: StreamInfo;
    try {
      info = await jsm.streams.info(bucketStream(bucket));
    } catch (error) {
      if (isNotFound(error)) continue;
      throw error;
    }
    const existing = info.config.num_replicas;
    if (existing !== replicas) {
      throw new ConfigError(
        `storage.replicas is ${replicas}, but the KV bucket ${bucket} on ${servers} has ${existing}: the ` +
          `collectors already serving these topics were started with storage.replicas: ${existing}. Set the same ` +
          `value here; to change it for all, stop the collectors and change every bucket and stream ` +
          `(nats stream edit KV_${bucket} --replicas N, and each TRIB_* stream), then start them with the new value`,
      );
    }
  }
  const differing: string[] = [];
  for await (const info of jsm.streams.list()) {
    const name = info.config.name;
    if (name.startsWith(STREAM_PREFIX) && info.config.num_replicas !== replicas) {
      differing.push(`${name} (${info.config.num_replicas})`);
    }
  }
  if (differing.length > 0) {
    logger.warn(
      { replicas, streams: differing.slice(0, 5), count: differing.length },
      `${differing.length} topic streams have a replica count other than storage.replicas (${replicas}); they ` +
        'keep theirs, new topics get the configured one (nats stream edit NAME --replicas N changes one)',
    );
  }
  return facts;
}
