import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Bus } from '../bus/bus.js';
import { EMOTIONS } from '../contracts/emotions.js';
import * as api from '../contracts/rest-api.js';
import type { Study, ViewerTrace } from '../contracts/study.js';
import { EriError } from '../errors.js';
import { SESSION_PAGE } from '../history/history-store.js';
import { audienceCsv, audienceTimeline, viewerTrace } from '../studies/audience.js';
import { reportSvg } from '../studies/report-svg.js';
import type { StudyStore } from '../studies/study-store.js';
import type { StudyTracker } from '../studies/study-tracker.js';
import { ThumbnailCache } from '../studies/thumbnails.js';
import { access, type Principal } from './auth.js';
import { errorResponses } from './openapi.js';

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
  fastify: FastifyInstance,
  deps: StudyDeps & { bus: Bus; principal: (req: FastifyRequest) => Principal; publicUrl: () => string },
): void {
  const http = fastify.withTypeProvider<ZodTypeProvider>();
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
  const visible = async (req: FastifyRequest & { params: { id: string } }, results = false) => {
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

  const tags = ['studies'];
  const params = api.studyIdParams;
  const readErrors = errorResponses(['ERI_ERR_INVALID_ARGUMENT', 'ERI_ERR_NOT_FOUND']);

  http.post(
    '/v1/studies',
    {
      schema: {
        tags,
        summary: 'Creates a study (admin): its rooms get one viewer link each',
        body: api.studyCreateBody,
        response: {
          201: api.studyResponse,
          ...errorResponses(['ERI_ERR_INVALID_ARGUMENT', 'ERI_ERR_FORBIDDEN']),
        },
      },
    },
    async (req, reply) => {
      adminOnly(req);
      const study = await deps.store.create(req.body);
      return reply.code(201).send({ study, viewerLinks: links(study) });
    },
  );

  http.put(
    '/v1/studies/:id/stimulus',
    {
      schema: {
        tags,
        summary: "Uploads the study's stimulus video (admin; a video/* body, up to 2 GiB)",
        consumes: ['video/*'],
        params,
        response: {
          200: api.studyResponse,
          ...errorResponses([
            'ERI_ERR_INVALID_ARGUMENT',
            'ERI_ERR_FORBIDDEN',
            'ERI_ERR_NOT_FOUND',
            'ERI_ERR_PAYLOAD_TOO_LARGE',
            'ERI_ERR_MEDIA_DECODE',
          ]),
        },
      },
    },
    async (req) => {
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
    },
  );

  http.get(
    '/v1/studies',
    {
      schema: {
        tags,
        summary: 'Studies the token may see',
        response: { 200: api.studiesResponse, ...errorResponses([]) },
      },
    },
    async (req) => ({
      studies: (await deps.store.list()).filter((s) => canSee(deps.principal(req), s)),
    }),
  );

  http.get(
    '/v1/studies/:id',
    {
      schema: {
        tags,
        summary: 'A study and its viewer links',
        params,
        response: { 200: api.studyResponse, ...readErrors },
      },
    },
    async (req) => {
      const study = await visible(req);
      return study ? { study, viewerLinks: links(study) } : notFound(req.params.id);
    },
  );

  http.delete(
    '/v1/studies/:id',
    {
      schema: {
        tags,
        summary: 'Deletes a study and its stimulus file (admin); its viewers’ history stays',
        params,
        response: {
          204: z.null().describe('deleted'),
          ...errorResponses(['ERI_ERR_INVALID_ARGUMENT', 'ERI_ERR_FORBIDDEN', 'ERI_ERR_NOT_FOUND']),
        },
      },
    },
    async (req, reply) => {
      adminOnly(req);
      thumbnails.forget(deps.store.stimulusPath(req.params.id));
      if (!(await deps.store.delete(req.params.id))) return notFound(req.params.id);
      return reply.code(204).send(null);
    },
  );

  http.get(
    '/v1/studies/:id/stimulus',
    {
      schema: {
        tags,
        summary: 'The stimulus video, with byte ranges (206) for seeking; a redirect for a URL stimulus',
        produces: ['video/*'],
        params,
        response: {
          200: z.unknown().describe('the whole video'),
          206: z.unknown().describe('the requested byte range'),
          416: z.null().describe('a range past the end (Content-Range says the size)'),
          ...readErrors,
        },
      },
    },
    async (req, reply) => {
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
        return reply.code(416).header('content-range', `bytes */${size}`).send(null);
      const part = await deps.store.openStimulus(study.id, { start, end });
      return reply
        .code(206)
        .header('content-range', `bytes ${start}-${end}/${size}`)
        .header('content-length', end - start + 1)
        .send(part);
    },
  );

  http.get(
    '/v1/studies/:id/thumbnail',
    {
      schema: {
        tags,
        summary: 'A JPEG of the stimulus at a second',
        produces: ['image/jpeg'],
        params,
        querystring: api.thumbnailQuery,
        response: { 200: z.unknown().describe('a JPEG'), ...readErrors },
      },
    },
    async (req, reply) => {
      const study = await visible(req, true);
      if (study?.stimulus.kind !== 'file') return notFound(req.params.id);
      const at = req.query.at;
      if (study.durationS !== null && at > study.durationS)
        throw new EriError('ERI_ERR_INVALID_ARGUMENT', 'at must be a second within the stimulus');
      return reply
        .type('image/jpeg')
        .header('cache-control', 'max-age=3600')
        .send(await thumbnails.get(deps.store.stimulusPath(study.id), at));
    },
  );

  http.get(
    '/v1/studies/:id/timeline',
    {
      schema: {
        tags,
        summary: 'The audience timeline: per stimulus second, viewers and the mean and spread per emotion',
        produces: ['application/json', 'text/csv'],
        params,
        querystring: api.timelineQuery,
        response: { 200: api.timelineResponse, ...readErrors },
      },
    },
    async (req, reply) => {
      const study = await visible(req, true);
      if (!study) return notFound(req.params.id);
      const timeline = await timelineOf(req, study);
      if (req.query.format === 'csv')
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="${study.id}.csv"`)
          .serializer((csv: string) => csv)
          .send(audienceCsv(timeline) as never);
      // Its per-second keys are numbers here and strings in JSON: the schema says what goes out.
      return { study, timeline: timeline as unknown as z.infer<typeof api.audienceTimelineSchema> };
    },
  );

  http.get(
    '/v1/studies/:id/report.svg',
    {
      schema: {
        tags,
        summary: 'A one-page SVG report of the audience timeline',
        produces: ['image/svg+xml'],
        params,
        response: { 200: z.string().describe('an SVG document'), ...readErrors },
      },
    },
    async (req, reply) => {
      const study = await visible(req, true);
      if (!study) return notFound(req.params.id);
      return reply.type('image/svg+xml').send(reportSvg(study, await timelineOf(req, study)));
    },
  );
}
