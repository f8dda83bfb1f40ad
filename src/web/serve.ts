/**
 * Serves the triage UI built by Vite (`npm run build:web`, output in dist/web) from the API's
 * own fastify app: `/` and every `/ui/...` path answer the single-page app, `/ui/assets/...`
 * the hashed bundles. The pages are public (they hold no data); every datum comes from the
 * API with the token the user typed, sent as a header, never in a URL.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Where `npm run build:web` writes the UI (gitignored). */
export const WEB_DIST_DIR = fileURLToPath(new URL('../../dist/web/', import.meta.url));

// A strict policy: scripts and styles only from the bundle, data only from this origin, so even
// a label that slipped past escaping could not run or phone home. uPlot sizes its elements
// through the CSSOM, which `style-src 'self'` allows.
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE_HEADERS: Record<string, string> = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Tidemark</title></head>
<body><h1>The Tidemark web UI is not built</h1>
<p>Run <code>npm run build:web</code> (it also runs on <code>npm install</code>) and reload. The API works without it.</p></body></html>`;

/**
 * Registers the UI routes on an API app, before it listens.
 * @example const app = await buildApp({ store, engine, clock }); await registerWeb(app); await app.listen({ port: 9464 });
 */
export async function registerWeb(app: FastifyInstance, dir: string = WEB_DIST_DIR): Promise<void> {
  await app.register(fastifyStatic, { root: dir, serve: false, dotfiles: 'deny' });
  const index = join(dir, 'index.html');

  // The app shell: never cached, so a rebuilt UI shows on the next load.
  const page = async (_req: unknown, reply: FastifyReply) => {
    reply.headers(PAGE_HEADERS);
    if (!existsSync(index)) return reply.code(503).type('text/html; charset=utf-8').send(NOT_BUILT);
    return reply.header('cache-control', 'no-cache').sendFile('index.html', { cacheControl: false });
  };

  app.get('/', page);
  app.get('/ui', page);
  app.get('/ui/*', async (req, reply) => {
    const rest = (req.params as { '*': string })['*'];
    // Hashed file names: a new build gets new names, so they can be cached for good.
    if (rest.startsWith('assets/')) return reply.header('x-content-type-options', 'nosniff').sendFile(rest, { maxAge: '365d', immutable: true });
    // Any other path is a client-side route (e.g. /ui/triage/<tenant>/<fingerprint>).
    return page(req, reply);
  });
}
