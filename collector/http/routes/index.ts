/**
 * Every route module of the HTTP API, registered in this order by server.ts. To add routes, write a module
 * exporting a RouteModule (see context.ts) and list it here.
 */
import { otlpRoutes } from '../../otlp/route.ts';
import { consoleRoutes } from '../../console/console-routes.ts';
import type { RouteModule } from '../context.ts';
import { fetchRoutes } from './fetch.ts';
import { groupMembersRoutes } from './group-members.ts';
import { groupOffsetsRoutes } from './group-offsets.ts';
import { healthRoutes } from './health.ts';
import { metricsRoutes } from './metrics.ts';
import { offsetsRoutes } from './offsets.ts';
import { produceRoutes } from './produce.ts';
import { queryRoutes } from './query.ts';
import { labelsRoutes } from './labels.ts';
import { recordContextRoutes } from './record-context.ts';
import { topicsRoutes } from './topics.ts';
import { volumeRoutes } from './volume.ts';
import { whoamiRoutes } from './whoami.ts';

export const ROUTE_MODULES: readonly RouteModule[] = [
  healthRoutes,
  metricsRoutes,
  produceRoutes,
  fetchRoutes,
  offsetsRoutes,
  topicsRoutes,
  groupOffsetsRoutes,
  groupMembersRoutes,
  queryRoutes,
  otlpRoutes,
  // the web console and the routes it added (label autocompletion, volume, record context, whoami)
  labelsRoutes,
  volumeRoutes,
  recordContextRoutes,
  whoamiRoutes,
  consoleRoutes,
];
