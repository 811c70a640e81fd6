import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Bus } from '../bus/bus.js';
import { EMOTIONS } from '../contracts/emotions.js';
import { type Estimate, estimateSchema } from '../contracts/estimate.js';
import * as api from '../contracts/rest-api.js';
import { EriError } from '../errors.js';
import type { SessionSummary } from '../history/history-store.js';
import type { SessionRegistry } from '../sessions/registry.js';
import { access, type Principal } from './auth.js';
import { errorResponses } from './openapi.js';

/**
 * History over REST: sessions (a page at a time, newest first), one session's estimates (JSON or CSV,
 * from a sequence number), its final estimate, a study viewer's stimulus markers, and deletion of a
 * session's history. Errors are `{code, message}` with an HTTP status.
 * A token sees only sessions its subscribe scopes cover: others answer 404 exactly as absent ones do,
 * so their existence does not leak; deleting history takes the admin scope.
 */

function summary(record: SessionSummary, registry: SessionRegistry) {
  const live = registry.get(record.sessionId);
  return {
    sessionId: record.sessionId,
    roomId: record.roomId,
    studyId: record.studyId ?? null,
    startedAt: record.startedAt,
    endedAt: record.endedAt ?? null,
    endReason: record.endReason ?? null,
    live: Boolean(live && live.state !== 'ended'),
    estimates: record.estimates,
    firstSeq: record.firstSeq,
    final: record.final ?? null,
    ...(live ? { stats: live.stats } : {}),
  };
}

export function estimatesCsv(estimates: readonly Estimate[]): string {
  const header = [
    'seq',
    'final',
    'window_start_s',
    'window_end_s',
    'wall_time',
    ...EMOTIONS,
    'face_coverage',
    'speech_coverage',
  ];
  const rows = estimates.map((e) =>
    [
      e.seq,
      e.final,
      e.windowStart,
      e.windowEnd,
      e.wallTime,
      ...e.values.map((v) => v.toFixed(6)),
      e.coverage.face.toFixed(4),
      e.coverage.speech.toFixed(4),
    ].join(','),
  );
  return `${[header.join(','), ...rows].join('\n')}\n`;
}

export function registerRestRoutes(
  fastify: FastifyInstance,
  deps: { bus: Bus; registry: SessionRegistry; principal: (req: FastifyRequest) => Principal },
): void {
  const http = fastify.withTypeProvider<ZodTypeProvider>();
  const visible = (req: FastifyRequest, record: SessionSummary | undefined): record is SessionSummary =>
    record !== undefined && access.readSession(deps.principal(req), record.roomId, record.sessionId);
  const notFound = (id: string): never => {
    throw new EriError('ERI_ERR_NOT_FOUND', `no session ${id.slice(0, 64)} in history`);
  };
  /** The session, if the token may read it; else the same 404 as for one that does not exist. */
  const readable = async (req: FastifyRequest, id: string): Promise<SessionSummary> => {
    const record = await deps.bus.session(id);
    return visible(req, record) ? record : notFound(id);
  };
  const tags = ['history'];

  // A page of metadata, never estimates. A token pinned to single sessions may get short pages: follow
  // nextCursor until it is null.
  http.get(
    '/v1/sessions',
    {
      schema: {
        tags,
        summary: 'Sessions the token may read, newest first, a page at a time',
        querystring: api.sessionsQuery,
        response: { 200: api.sessionPageResponse, ...errorResponses(['ERI_ERR_INVALID_ARGUMENT']) },
      },
    },
    async (req) => {
      const { room, cursor, limit } = req.query;
      const readable = access.readableRooms(deps.principal(req));
      const rooms = room !== undefined ? [room] : readable;
      if (rooms?.length === 0) return { sessions: [], nextCursor: null };
      // A forged cursor: the store throws an EriError that says so.
      const page = await deps.bus.sessions({
        ...(rooms ? { rooms } : {}),
        ...(limit !== undefined ? { limit } : {}),
        ...(cursor !== undefined ? { cursor } : {}),
      });
      return {
        sessions: page.sessions.filter((s) => visible(req, s)).map((s) => summary(s, deps.registry)),
        nextCursor: page.nextCursor,
      };
    },
  );

  http.get(
    '/v1/sessions/:id',
    {
      schema: {
        tags,
        summary: "A session's metadata (live counters while it runs)",
        params: api.sessionIdParams,
        response: {
          200: api.sessionSummaryResponse,
          ...errorResponses(['ERI_ERR_INVALID_ARGUMENT', 'ERI_ERR_NOT_FOUND']),
        },
      },
    },
    async (req) => {
      return summary(await readable(req, req.params.id), deps.registry);
    },
  );

  http.get(
    '/v1/sessions/:id/estimates',
    {
      schema: {
        tags,
        summary: "A session's estimates after a sequence number, as JSON or CSV",
        params: api.sessionIdParams,
        querystring: api.estimatesQuery,
        produces: ['application/json', 'text/csv'],
        response: {
          200: api.estimatesResponse,
          ...errorResponses(['ERI_ERR_INVALID_ARGUMENT', 'ERI_ERR_NOT_FOUND', 'ERI_ERR_HISTORY_GONE']),
        },
      },
    },
    async (req, reply) => {
      const record = await readable(req, req.params.id);
      // Older than the history keeps: ERI_ERR_HISTORY_GONE from the store, with the first seq kept.
      const estimates: Estimate[] = await deps.bus.estimatesAfter(req.params.id, req.query.from);
      if (req.query.format === 'csv')
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${req.params.id}.csv"`)
          .serializer((csv: string) => csv)
          .send(estimatesCsv(estimates) as never);
      return { sessionId: record.sessionId, roomId: record.roomId, emotions: [...EMOTIONS], estimates };
    },
  );

  http.get(
    '/v1/sessions/:id/final',
    {
      schema: {
        tags,
        summary: "A session's final estimate, over the whole session",
        params: api.sessionIdParams,
        response: {
          200: estimateSchema,
          ...errorResponses(['ERI_ERR_INVALID_ARGUMENT', 'ERI_ERR_NOT_FOUND', 'ERI_ERR_INVALID_STATE']),
        },
      },
    },
    async (req) => {
      const record = await readable(req, req.params.id);
      if (!record.final)
        throw new EriError(
          'ERI_ERR_INVALID_STATE',
          record.endedAt ? 'the session ended without a final estimate' : 'the session is still running',
        );
      return record.final;
    },
  );

  http.get(
    '/v1/sessions/:id/markers',
    {
      schema: {
        tags,
        summary: "A study viewer's stimulus markers (play, pause, seek …)",
        params: api.sessionIdParams,
        response: {
          200: api.markersResponse,
          ...errorResponses(['ERI_ERR_INVALID_ARGUMENT', 'ERI_ERR_NOT_FOUND']),
        },
      },
    },
    async (req) => {
      const record = await readable(req, req.params.id);
      return {
        sessionId: record.sessionId,
        studyId: record.studyId ?? null,
        markers: await deps.bus.markers(record.sessionId),
      };
    },
  );

  http.delete(
    '/v1/sessions/:id',
    {
      schema: {
        tags,
        summary: "Deletes a session's history everywhere (admin)",
        params: api.sessionIdParams,
        response: {
          204: z.null().describe('deleted'),
          ...errorResponses([
            'ERI_ERR_INVALID_ARGUMENT',
            'ERI_ERR_FORBIDDEN',
            'ERI_ERR_NOT_FOUND',
            'ERI_ERR_INVALID_STATE',
          ]),
        },
      },
    },
    async (req, reply) => {
      if (!access.admin(deps.principal(req)))
        throw new EriError('ERI_ERR_FORBIDDEN', 'deleting history takes the admin scope');
      const live = deps.registry.get(req.params.id);
      if (live && live.state !== 'ended')
        throw new EriError('ERI_ERR_INVALID_STATE', 'the session is live; end it first');
      if (!(await deps.bus.deleteSession(req.params.id))) return notFound(req.params.id);
      return reply.code(204).send(null);
    },
  );
}
