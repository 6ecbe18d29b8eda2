/** `GET /metrics`: Prometheus text format. Public, like most exporters; restrict it at the network if needed. */
import type { RouteModule } from '../context.ts';

export const metricsRoutes: RouteModule = {
  name: 'metrics',
  register(app, ctx) {
    app.get('/metrics', async (_request, reply) => {
      const text = await ctx.metrics.render();
      return reply.header('content-type', ctx.metrics.contentType()).send(text);
    });
  },
};
