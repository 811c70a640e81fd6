import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/**
 * The server's pages and their scripts: the HTML from src/server/public, the bundles esbuild writes to
 * dist/public (scripts/bundle.mjs), served by @fastify/static (ETags, ranges, no path escapes).
 */

const BUNDLE_DIR = fileURLToPath(new URL('../../public/', import.meta.url));
const PAGE_DIR = fileURLToPath(new URL('../../../src/server/public/', import.meta.url));

const PAGES: Record<string, string> = {
  '/publish': 'publish.html',
  '/dashboard': 'dashboard.html',
  '/watch': 'watch.html',
  '/study': 'study.html',
};

export async function registerPageRoutes(http: FastifyInstance): Promise<void> {
  await http.register(fastifyStatic, {
    root: BUNDLE_DIR,
    prefix: '/public/',
    // Only what the pages load: bundles, their source maps, the chart styles.
    allowedPath: (path) => /^\/[A-Za-z-]+(\.min)?\.(js|js\.map|css)$/.test(path),
    decorateReply: false,
    schemaHide: true,
  });
  // The pages, each at its own route (reply.sendFile from this folder only; nothing served by path).
  await http.register(fastifyStatic, { root: PAGE_DIR, serve: false });
  http.get('/', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/dashboard'));
  for (const [path, file] of Object.entries(PAGES))
    http.get(path, { schema: { hide: true } }, async (_req, reply) => reply.sendFile(file));
}
