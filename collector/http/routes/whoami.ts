/**
 * `GET /v1/whoami` — any valid token (or none when authentication is off): the caller's token name and role, and
 * whether this collector requires tokens. The web console asks it to decide whether to ask for a token and which
 * of its pages and actions to show disabled. The token itself is never part of the answer.
 */
import type { RouteModule } from '../context.ts';

export const whoamiRoutes: RouteModule = {
  name: 'whoami',
  register(app, ctx) {
    app.get('/v1/whoami', async (request) => {
      const principal = ctx.auth.authenticate(request.headers.authorization);
      return { name: principal.name, role: principal.role, authentication: ctx.auth.enabled };
    });
  },
};
