/** Every Kafka API this listener serves, by key: the table ApiVersions advertises. Add an API by listing it here. */
import type { KafkaApi } from '../context.ts';
import { produceApi } from './00-produce.ts';
import { fetchApi } from './01-fetch.ts';
import { listOffsetsApi } from './02-list-offsets.ts';
import { metadataApi } from './03-metadata.ts';
import { apiVersionsApi } from './18-api-versions.ts';
import { initProducerIdApi } from './22-init-producer-id.ts';

export function kafkaApis(): ReadonlyMap<number, KafkaApi> {
  const table = new Map<number, KafkaApi>();
  for (const api of [produceApi, fetchApi, listOffsetsApi, metadataApi, apiVersionsApi(() => table), initProducerIdApi])
    table.set(api.key, api);
  return table;
}
