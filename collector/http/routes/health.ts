/** `/healthz` (the process serves) and `/readyz` (storage recovered and open, not shutting down). Public. */
import type { RouteModule } from '../context.ts';

export const healthRoutes: RouteModule = {
  name: 'health',
  register(app, ctx) {
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_request, reply) => {
      if (ctx.lifecycle.ready) return { status: 'ready' };
      return reply
        .code(503)
        .header('retry-after', '1')
        .send({ error: { code: 'unavailable', message: 'the collector is starting or shutting down' } });
    });
  },
};
