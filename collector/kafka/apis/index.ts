/** Every Kafka API this listener serves, by key: the table ApiVersions advertises. Add an API by listing it here. */
import type { KafkaApi } from '../context.ts';
import { produceApi } from './00-produce.ts';
import { fetchApi } from './01-fetch.ts';
import { listOffsetsApi } from './02-list-offsets.ts';
import { metadataApi } from './03-metadata.ts';
import { offsetCommitApi } from './08-offset-commit.ts';
import { offsetFetchApi } from './09-offset-fetch.ts';
import { findCoordinatorApi } from './10-find-coordinator.ts';
import { joinGroupApi } from './11-join-group.ts';
import { heartbeatApi } from './12-heartbeat.ts';
import { leaveGroupApi } from './13-leave-group.ts';
import { syncGroupApi } from './14-sync-group.ts';
import { describeGroupsApi } from './15-describe-groups.ts';
import { listGroupsApi } from './16-list-groups.ts';
import { saslHandshakeApi } from './17-sasl-handshake.ts';
import { apiVersionsApi } from './18-api-versions.ts';
import { createTopicsApi } from './19-create-topics.ts';
import { deleteTopicsApi } from './20-delete-topics.ts';
import { initProducerIdApi } from './22-init-producer-id.ts';
import { describeConfigsApi } from './32-describe-configs.ts';
import { saslAuthenticateApi } from './36-sasl-authenticate.ts';

export function kafkaApis(): ReadonlyMap<number, KafkaApi> {
  const table = new Map<number, KafkaApi>();
  const apis = [
    produceApi,
    fetchApi,
    listOffsetsApi,
    metadataApi,
    offsetCommitApi,
    offsetFetchApi,
    findCoordinatorApi,
    joinGroupApi,
    heartbeatApi,
    leaveGroupApi,
    syncGroupApi,
    apiVersionsApi(() => table),
    initProducerIdApi,
    saslHandshakeApi,
    saslAuthenticateApi,
    describeGroupsApi,
    listGroupsApi,
    createTopicsApi,
    deleteTopicsApi,
    describeConfigsApi,
  ];
  for (const api of apis) table.set(api.key, api);
  return table;
}
