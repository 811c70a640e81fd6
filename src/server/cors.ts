import type { FastifyCorsOptions } from '@fastify/cors';

/**
 * Cross-origin calls from the configured web origins (`ERI_CORS_ORIGINS`): a study site or an app that
 * embeds the edge library, or reads the REST API, from a page this server did not serve. Credentials
 * are bearer tokens in the Authorization header, never cookies, so no credentialed mode: `*` stays safe
 * to allow, and a token still decides what each call may do.
 */
export function corsOptions(origins: readonly string[]): FastifyCorsOptions {
  return {
    origin: origins.includes('*') ? '*' : [...origins],
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
    // What a client reads off an answer: the request id to quote, and when to retry after a 429.
    exposedHeaders: [
      'x-request-id',
      'retry-after',
      'x-ratelimit-limit',
      'x-ratelimit-remaining',
      'x-ratelimit-reset',
    ],
    credentials: false,
    maxAge: 600,
  };
}
