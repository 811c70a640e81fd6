import type { FastifyInstance } from 'fastify';

/** Probes and scrapes come every few seconds: logged at debug, so the info log is about users. */
const QUIET = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * One record per request once it is answered (method, path without the query, which can hold a token,
 * status, time), carrying the request id that Fastify gives it; the response says the id too.
 */
export function logRequests(http: FastifyInstance): void {
  http.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  http.addHook('onResponse', async (req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    const record = { method: req.method, path, status: reply.statusCode, ms: Math.round(reply.elapsedTime) };
    if (QUIET.has(path)) req.log.debug(record, 'request');
    else if (reply.statusCode >= 500) req.log.error(record, 'request');
    else req.log.info(record, 'request');
  });
}
