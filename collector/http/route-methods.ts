/**
 * Which methods the routes registered for a path accept, so a request with another method is answered 405 with
 * `Allow` instead of 404. Route patterns are fastify's (`/v1/topics/:topic/records`): a `:param` matches one path
 * segment, a trailing `*` the rest.
 */
export class RouteMethods {
  private readonly routes: { readonly pattern: RegExp; readonly methods: Set<string> }[] = [];

  add(method: string | readonly string[], url: string): void {
    const methods = (Array.isArray(method) ? method : [method]) as readonly string[];
    const source = url
      .split('/')
      .map((segment) =>
        segment.startsWith(':') ? '[^/]+' : segment === '*' ? '.*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
      )
      .join('/');
    let route = this.routes.find((r) => r.pattern.source === `^${source}$`);
    if (!route) {
      route = { pattern: new RegExp(`^${source}$`), methods: new Set() };
      this.routes.push(route);
    }
    for (const m of methods) route.methods.add(m.toUpperCase());
  }

  /** The methods accepted at `path`, sorted; empty when no route has this path. */
  allowed(path: string): string[] {
    const methods = new Set<string>();
    for (const route of this.routes) if (route.pattern.test(path)) for (const m of route.methods) methods.add(m);
    return [...methods].sort();
  }
}
