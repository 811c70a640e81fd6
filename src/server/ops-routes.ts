import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { healthResponse, readinessResponse } from '../contracts/rest-api.js';
import { EriError } from '../errors.js';
import { access, type Principal } from './auth.js';
import type { ServerMetrics } from './metrics.js';
import { errorResponses } from './openapi.js';
import { Readiness, type ReadinessCheck } from './readiness.js';

/** What operators and orchestrators call: liveness, readiness, Prometheus metrics. */
export interface OpsDeps {
  metrics: ServerMetrics;
  checks: () => readonly ReadinessCheck[];
  sessions: () => number;
  principal: (req: FastifyRequest) => Principal;
}

export function registerOpsRoutes(fastify: FastifyInstance, deps: OpsDeps): void {
  const http = fastify.withTypeProvider<ZodTypeProvider>();
  const tags = ['operations'];
  const readiness = new Readiness(deps.checks);
  // The process serves HTTP: nothing else is asked, so a busy node is never restarted for being busy.
  http.get(
    '/healthz',
    {
      schema: {
        tags,
        summary: 'Liveness: the process serves HTTP',
        security: [],
        response: { 200: healthResponse },
      },
    },
    async () => ({ ok: true as const }),
  );
  http.get(
    '/readyz',
    {
      schema: {
        tags,
        summary: 'Readiness: every dependency a new viewer needs answers (503 names the one that does not)',
        security: [],
        response: { 200: readinessResponse, 503: readinessResponse },
      },
    },
    async (_req, reply) => {
      const report = await readiness.report();
      return reply.code(report.ready ? 200 : 503).send({ ...report, sessions: deps.sessions() });
    },
  );
  http.get(
    '/metrics',
    {
      schema: {
        tags,
        summary: 'Prometheus metrics (the metrics or admin scope); names in docs/operations.md',
        produces: ['text/plain; version=0.0.4'],
        response: { 200: z.string(), ...errorResponses(['ERI_ERR_FORBIDDEN']) },
      },
    },
    async (req, reply) => {
      if (!access.scrape(deps.principal(req)))
        throw new EriError('ERI_ERR_FORBIDDEN', '/metrics takes the metrics (or admin) scope');
      return reply
        .type(deps.metrics.registry.contentType)
        .serializer((text: string) => text)
        .send(await deps.metrics.registry.metrics());
    },
  );
}
