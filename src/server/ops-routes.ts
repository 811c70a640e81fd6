import type { FastifyInstance, FastifyRequest } from 'fastify';
import { EriError } from '../errors.js';
import { access, type Principal } from './auth.js';
import type { ServerMetrics } from './metrics.js';
import { checkReadiness, type ReadinessCheck } from './readiness.js';

/** What operators and orchestrators call: liveness, readiness, Prometheus metrics. */
export interface OpsDeps {
  metrics: ServerMetrics;
  checks: () => readonly ReadinessCheck[];
  sessions: () => number;
  principal: (req: FastifyRequest) => Principal;
}

export function registerOpsRoutes(http: FastifyInstance, deps: OpsDeps): void {
  // The process serves HTTP: nothing else is asked, so a busy node is never restarted for being busy.
  http.get('/healthz', async () => ({ ok: true }));
  http.get('/readyz', async (_req, reply) => {
    const report = await checkReadiness(deps.checks());
    return reply.code(report.ready ? 200 : 503).send({ ...report, sessions: deps.sessions() });
  });
  http.get('/metrics', async (req, reply) => {
    if (!access.scrape(deps.principal(req)))
      throw new EriError('ERI_ERR_FORBIDDEN', '/metrics takes the metrics (or admin) scope');
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
}
