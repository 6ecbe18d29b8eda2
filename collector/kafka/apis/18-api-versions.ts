/**
 * ApiVersions (key 18), versions 0-3: the table of APIs and versions this listener serves. Answered before SASL
 * authentication. v3 is the first flexible version (compact arrays, tagged fields); a v3 request that cannot be
 * parsed, or a version above 3, is answered in v0 with UNSUPPORTED_VERSION and the table (connection.ts), and
 * librdkafka and the Java client then retry with the highest version of the table.
 */
import { apiVersionsBody } from '../connection.ts';
import type { KafkaApi } from '../context.ts';
import { ApiKey } from '../protocol.ts';

export function apiVersionsApi(table: () => ReadonlyMap<number, KafkaApi>): KafkaApi {
  return {
    key: ApiKey.ApiVersions,
    name: 'ApiVersions',
    minVersion: 0,
    maxVersion: 3,
    beforeAuthentication: true,
    async handle(request) {
      const { body, header } = request;
      if (header.apiVersion >= 3) {
        body.compactString(); // client_software_name
        body.compactString(); // client_software_version
        body.skipTaggedFields();
      }
      return apiVersionsBody(table(), header.apiVersion, 0);
    },
  };
}
