/**
 * Serves the web console: the assets Vite built into `dist/console/` (npm run build:console), at `/ui/`, with `/`
 * redirecting there. Any other path under `/ui/` is a page of the console (its router reads the path), so it gets
 * index.html; a missing file under `/ui/assets/` is a 404.
 *
 * The assets are read once, when the routes are registered (a rebuilt console is served after a restart), and
 * gzipped once. Only files found in the build are served, so no request path ever reaches the file system. The
 * Content-Security-Policy keeps every request of the page on this collector (no CDN, no fonts from elsewhere).
 * The pages are public (they hold no data); every API call the page makes carries the token the user typed.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RouteModule } from '../http/context.ts';

interface Asset {
  readonly type: string;
  readonly body: Buffer;
  readonly gzipped: Buffer | undefined;
  readonly immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

export const CONSOLE_PATH = '/ui/';

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; " +
    "frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** The package root: the first folder above this file with a package.json (sources and compiled code alike). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('the console cannot find the package root (no package.json above it)');
    dir = up;
  }
  return dir;
}

export const CONSOLE_BUILD_DIR = path.join(packageRoot(), 'dist', 'console');

/** Every file of the build, by its URL path under /ui/ ("index.html", "assets/index-abc123.js"). */
export function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(dir)) return assets;
  const walk = (folder: string) => {
    for (const name of readdirSync(folder)) {
      const file = path.join(folder, name);
      if (statSync(file).isDirectory()) {
        walk(file);
        continue;
      }
      const rel = path.relative(dir, file).split(path.sep).join('/');
      const ext = path.extname(name);
      const body = readFileSync(file);
      const type = TYPES[ext] ?? 'application/octet-stream';
      const text = type.startsWith('text/') || ext === '.svg' || ext === '.json';
      assets.set(rel, {
        type,
        body,
        gzipped: text && body.length > 1024 ? gzipSync(body) : undefined,
        // Vite puts a content hash in every file name under assets/: safe to cache for good.
        immutable: rel.startsWith('assets/'),
      });
    }
  };
  try {
    walk(dir);
  } catch {
    // A build being rewritten at this moment (npm run build:console empties the folder first): serve the
    // "not built" page rather than fail the collector's start; a restart picks the finished build up.
    assets.clear();
  }
  return assets;
}

function send(request: FastifyRequest, reply: FastifyReply, asset: Asset) {
  reply.headers(SECURITY_HEADERS);
  reply.header('content-type', asset.type);
  reply.header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
  reply.header('vary', 'accept-encoding');
  const accepts = String(request.headers['accept-encoding'] ?? '');
  if (asset.gzipped && /\bgzip\b/.test(accepts)) {
    reply.header('content-encoding', 'gzip');
    return reply.send(asset.gzipped);
  }
  return reply.send(asset.body);
}

const NOT_BUILT =
  '<!doctype html><meta charset="utf-8"><title>Tributary</title><p>The web console is not built. Run ' +
  '<code>npm run build:console</code> (npm install does it) and restart the collector. The HTTP API is under ' +
  '<code>/v1</code> (docs/api.md).</p>';

export function consoleRoutesFrom(dir: string): RouteModule {
  return {
    name: 'console',
    register(app) {
      const assets = loadAssets(dir);
      const index = assets.get('index.html');
      app.get('/', async (_request, reply) => reply.redirect(CONSOLE_PATH));
      app.get('/ui', async (_request, reply) => reply.redirect(CONSOLE_PATH));
      app.get<{ Params: { '*': string } }>('/ui/*', async (request, reply) => {
        const rel = request.params['*'];
        const asset = assets.get(rel);
        if (asset) return send(request, reply, asset);
        if (rel.startsWith('assets/') || path.extname(rel) !== '') {
          return reply.code(404).send({ error: { code: 'not_found', message: `no console file ${rel}` } });
        }
        if (!index) return reply.code(503).headers(SECURITY_HEADERS).type('text/html; charset=utf-8').send(NOT_BUILT);
        return send(request, reply, index);
      });
    },
  };
}

export const consoleRoutes: RouteModule = consoleRoutesFrom(CONSOLE_BUILD_DIR);
