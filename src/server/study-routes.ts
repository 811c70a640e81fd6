import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Bus } from '../bus/bus.js';
import { EMOTIONS } from '../contracts/emotions.js';
import { type Study, studyCreateSchema, type ViewerTrace } from '../contracts/study.js';
import { EriError, zodIssueText } from '../errors.js';
import { SESSION_PAGE } from '../history/history-store.js';
import { audienceCsv, audienceTimeline, viewerTrace } from '../studies/audience.js';
import { reportSvg } from '../studies/report-svg.js';
import type { StudyStore } from '../studies/study-store.js';
import type { StudyTracker } from '../studies/study-tracker.js';
import { ThumbnailCache } from '../studies/thumbnails.js';
import { access, type Principal } from './auth.js';

/**
 * Reaction studies over REST. Managing them (create, upload the stimulus, delete) takes the admin scope;
 * the study and its stimulus are visible to whoever may publish into or follow one of its rooms (its
 * viewers and observers); its results (timeline, CSV, report, thumbnails) to whoever may follow its rooms,
 * computed over those rooms only. Anything else answers 404, as an absent study does.
 */

export interface StudyDeps {
  store: StudyStore;
  tracker: StudyTracker;
}

/** The study a viewer joins, checked: it exists and the room is one of its rooms. */
export async function studyForViewer(deps: StudyDeps, studyId: string, roomId: string): Promise<Study> {
  const study = await deps.store.require(studyId);
  if (!study.rooms.includes(roomId)) {
    throw new EriError('ERI_ERR_INVALID_ARGUMENT', `room ${roomId} is not one of study ${studyId}'s rooms`);
  }
  return study;
}

const canSee = (p: Principal, s: Study) =>
  s.rooms.some((room) => access.publish(p, room) || access.readRoom(p, room));
const readableRooms = (p: Principal, s: Study) => s.rooms.filter((room) => access.readRoom(p, room));

export function registerStudyRoutes(
  http: FastifyInstance,
  deps: StudyDeps & { bus: Bus; principal: (req: FastifyRequest) => Principal; publicUrl: () => string },
): void {
  const notFound = (id: string): never => {
    throw new EriError('ERI_ERR_NOT_FOUND', `no study ${id.slice(0, 64)}`);
  };
  const adminOnly = (req: FastifyRequest): void => {
    if (!access.admin(deps.principal(req)))
      throw new EriError('ERI_ERR_FORBIDDEN', 'managing studies takes the admin scope');
  };
  const links = (s: Study) =>
    Object.fromEntries(s.rooms.map((room) => [room, `${deps.publicUrl()}/watch?study=${s.id}&room=${room}`]));
  /** The study if the request may see it (and, with `results`, read some of its rooms). */
  const visible = async (req: FastifyRequest<{ Params: { id: string } }>, results = false) => {
    const study = await deps.store.get(req.params.id);
    const p = deps.principal(req);
    if (!study || !canSee(p, study) || (results && readableRooms(p, study).length === 0)) return undefined;
    return study;
  };
  // Only this study's viewers are read, a page of sessions at a time, each reduced to its trace at once.
  const timelineOf = async (req: FastifyRequest, study: Study) => {
    const rooms = readableRooms(deps.principal(req), study);
    const traces: ViewerTrace[] = [];
    let cursor: string | null | undefined;
    do {
      const page = await deps.bus.sessions({
        studyId: study.id,
        rooms,
        limit: SESSION_PAGE.max,
        ...(cursor ? { cursor } : {}),
      });
      for (const s of page.sessions) {
        const trace = viewerTrace(s, await deps.bus.estimatesAfter(s.sessionId, s.firstSeq - 1), study.id);
        if (trace) traces.push(trace);
      }
      cursor = page.nextCursor;
    } while (cursor);
    return audienceTimeline({ ...study, rooms }, traces, EMOTIONS);
  };

  const thumbnails = new ThumbnailCache();

  // Stimulus uploads arrive as a stream, straight to disk (the store caps their size).
  http.addContentTypeParser(/^video\//, (_req, payload, done) => done(null, payload));

  http.post('/v1/studies', async (req, reply) => {
    adminOnly(req);
    const parsed = studyCreateSchema.safeParse(req.body);
    if (!parsed.success)
      throw new EriError(
        'ERI_ERR_INVALID_ARGUMENT',
        zodIssueText(parsed.error).replace(/^\(root\)/, '(body)'),
      );
    const study = await deps.store.create(parsed.data);
    return reply.code(201).send({ study, viewerLinks: links(study) });
  });

  http.put<{ Params: { id: string } }>('/v1/studies/:id/stimulus', async (req, _reply) => {
    adminOnly(req);
    // What the store throws is answered by the error handler: a client's mistake with its code, a
    // failing disk with 500.
    thumbnails.forget(deps.store.stimulusPath(req.params.id));
    const study = await deps.store.putStimulus(
      req.params.id,
      req.body as Readable,
      String(req.headers['content-type']),
    );
    return { study, viewerLinks: links(study) };
  });

  http.get('/v1/studies', async (req) => ({
    studies: (await deps.store.list()).filter((s) => canSee(deps.principal(req), s)),
  }));

  http.get<{ Params: { id: string } }>('/v1/studies/:id', async (req, _reply) => {
    const study = await visible(req);
    return study ? { study, viewerLinks: links(study) } : notFound(req.params.id);
  });

  http.delete<{ Params: { id: string } }>('/v1/studies/:id', async (req, reply) => {
    adminOnly(req);
    thumbnails.forget(deps.store.stimulusPath(req.params.id));
    return (await deps.store.delete(req.params.id)) ? reply.code(204).send() : notFound(req.params.id);
  });

  http.get<{ Params: { id: string } }>('/v1/studies/:id/stimulus', async (req, reply) => {
    const study = await visible(req);
    if (!study) return notFound(req.params.id);
    if (study.stimulus.kind === 'url') return reply.redirect(study.stimulus.url);
    if (study.stimulus.kind !== 'file') throw new EriError('ERI_ERR_NOT_FOUND', 'no stimulus uploaded yet');
    // Byte ranges, so the viewer's <video> can seek.
    const size = study.stimulus.bytes;
    const m = /^bytes=(\d*)-(\d*)$/.exec(String(req.headers.range ?? ''));
    reply.header('accept-ranges', 'bytes').type(study.stimulus.contentType);
    if (!m) {
      const whole = await deps.store.openStimulus(study.id);
      return reply.header('content-length', size).send(whole);
    }
    const start = m[1] ? Number(m[1]) : Math.max(0, size - Number(m[2]));
    const end = m[1] && m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
    // HTTP's own answer to a range past the end: 416 with the size, no body (what <video> expects).
    if (!(start <= end && start < size))
      return reply.code(416).header('content-range', `bytes */${size}`).send();
    const part = await deps.store.openStimulus(study.id, { start, end });
    return reply
      .code(206)
      .header('content-range', `bytes ${start}-${end}/${size}`)
      .header('content-length', end - start + 1)
      .send(part);
  });

  http.get<{ Params: { id: string }; Querystring: { at?: string } }>(
    '/v1/studies/:id/thumbnail',
    async (req, reply) => {
      const study = await visible(req, true);
      if (study?.stimulus.kind !== 'file') return notFound(req.params.id);
      const at = Number(req.query.at ?? 0);
      if (!(at >= 0) || (study.durationS !== null && at > study.durationS))
        throw new EriError('ERI_ERR_INVALID_ARGUMENT', 'at must be a second within the stimulus');
      return reply
        .type('image/jpeg')
        .header('cache-control', 'max-age=3600')
        .send(await thumbnails.get(deps.store.stimulusPath(study.id), at));
    },
  );

  http.get<{ Params: { id: string }; Querystring: { format?: string } }>(
    '/v1/studies/:id/timeline',
    async (req, reply) => {
      const study = await visible(req, true);
      if (!study) return notFound(req.params.id);
      const timeline = await timelineOf(req, study);
      if (req.query.format === 'csv')
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${study.id}.csv"`)
          .send(audienceCsv(timeline));
      return { study, timeline };
    },
  );

  http.get<{ Params: { id: string } }>('/v1/studies/:id/report.svg', async (req, reply) => {
    const study = await visible(req, true);
    if (!study) return notFound(req.params.id);
    return reply.type('image/svg+xml').send(reportSvg(study, await timelineOf(req, study)));
  });
}
