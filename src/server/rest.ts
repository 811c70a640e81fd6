import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Bus } from '../bus/bus.js';
import { EMOTIONS } from '../contracts/emotions.js';
import type { Estimate } from '../contracts/estimate.js';
import { EriError } from '../errors.js';
import type { SessionSummary } from '../history/history-store.js';
import type { SessionRegistry } from '../sessions/registry.js';
import { access, type Principal } from './auth.js';

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
  http: FastifyInstance,
  deps: { bus: Bus; registry: SessionRegistry; principal: (req: FastifyRequest) => Principal },
): void {
  const visible = (req: FastifyRequest, record: SessionSummary | undefined): record is SessionSummary =>
    record !== undefined && access.readSession(deps.principal(req), record.roomId, record.sessionId);
  const notFound = (id: string): never => {
    throw new EriError('ERI_ERR_NOT_FOUND', `no session ${id.slice(0, 64)} in history`);
  };

  // A page of metadata, never estimates. A token pinned to single sessions may get short pages: follow
  // nextCursor until it is null.
  http.get<{ Querystring: { room?: string; limit?: string; cursor?: string } }>(
    '/v1/sessions',
    async (req, _reply) => {
      const { room, cursor } = req.query;
      const limit = req.query.limit === undefined ? undefined : Number(req.query.limit);
      const readable = access.readableRooms(deps.principal(req));
      const rooms = room !== undefined ? [room] : readable;
      if (rooms?.length === 0) return { sessions: [], nextCursor: null };
      // A bad limit or cursor: the store throws an EriError that says which.
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

  http.get<{ Params: { id: string } }>('/v1/sessions/:id', async (req, _reply) => {
    const record = await deps.bus.session(req.params.id);
    return visible(req, record) ? summary(record, deps.registry) : notFound(req.params.id);
  });

  http.get<{ Params: { id: string }; Querystring: { format?: string; from?: string } }>(
    '/v1/sessions/:id/estimates',
    async (req, reply) => {
      const record = await deps.bus.session(req.params.id);
      if (!visible(req, record)) return notFound(req.params.id);
      const from = req.query.from === undefined ? -1 : Number(req.query.from);
      if (!Number.isInteger(from) || from < -1)
        throw new EriError('ERI_ERR_INVALID_ARGUMENT', 'from must be an integer sequence number >= -1');
      const format = req.query.format ?? 'json';
      if (format !== 'json' && format !== 'csv')
        throw new EriError('ERI_ERR_INVALID_ARGUMENT', 'format is json or csv');
      const estimates: Estimate[] = await deps.bus.estimatesAfter(req.params.id, from);
      if (format === 'csv')
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${req.params.id}.csv"`)
          .send(estimatesCsv(estimates));
      return { sessionId: record.sessionId, roomId: record.roomId, emotions: EMOTIONS, estimates };
    },
  );

  http.get<{ Params: { id: string } }>('/v1/sessions/:id/final', async (req, _reply) => {
    const record = await deps.bus.session(req.params.id);
    if (!visible(req, record)) return notFound(req.params.id);
    if (!record.final)
      throw new EriError(
        'ERI_ERR_INVALID_STATE',
        record.endedAt ? 'the session ended without a final estimate' : 'the session is still running',
      );
    return record.final;
  });

  http.get<{ Params: { id: string } }>('/v1/sessions/:id/markers', async (req, _reply) => {
    const record = await deps.bus.session(req.params.id);
    if (!visible(req, record)) return notFound(req.params.id);
    return {
      sessionId: record.sessionId,
      studyId: record.studyId ?? null,
      markers: await deps.bus.markers(record.sessionId),
    };
  });

  http.delete<{ Params: { id: string } }>('/v1/sessions/:id', async (req, reply) => {
    if (!access.admin(deps.principal(req)))
      throw new EriError('ERI_ERR_FORBIDDEN', 'deleting history takes the admin scope');
    const live = deps.registry.get(req.params.id);
    if (live && live.state !== 'ended')
      throw new EriError('ERI_ERR_INVALID_STATE', 'the session is live; end it first');
    return (await deps.bus.deleteSession(req.params.id)) ? reply.code(204).send() : notFound(req.params.id);
  });
}
