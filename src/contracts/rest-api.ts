import { z } from 'zod';
import { EMOTIONS } from './emotions.js';
import { errorBodySchema } from './error-body.js';
import { analysisModeSchema, estimateSchema } from './estimate.js';
import { idSchema } from './ids.js';
import { MARKER_EVENTS, studyCreateSchema, studySchema } from './study.js';

/**
 * The REST API's requests and answers, as zod schemas: the server validates queries and bodies with
 * them and serialises its answers through them (an answer that drifted from its schema is a 500 in the
 * tests, not a surprise for a client), and /v1/openapi.json is generated from them. Clients import the
 * same schemas.
 */

export const sessionIdParams = z.object({ id: idSchema });
export const studyIdParams = z.object({ id: idSchema });

const intFromQuery = z.coerce.number().int();

export const sessionsQuery = z
  .object({
    room: idSchema.optional(),
    limit: intFromQuery.min(1).max(1000).optional().describe('sessions per page (default 100, at most 1000)'),
    cursor: z.string().max(512).optional().describe('nextCursor of the previous page'),
  })
  .strict();

const sessionStats = z
  .object({
    steps: z.number(),
    faceSteps: z.number(),
    estimates: z.number(),
    droppedFaceSteps: z.number(),
    droppedEstimates: z.number(),
    lateInputs: z.number(),
    duplicateInputs: z.number(),
    stepsWithoutFrame: z.number(),
    lagMs: z.number(),
    lastEstimateLatencyMs: z.number(),
    captureToFeaturesMs: z.object({ median: z.number(), p95: z.number() }),
  })
  .describe('a live session’s counters');

export const sessionSummaryResponse = z.object({
  sessionId: idSchema,
  roomId: idSchema,
  studyId: idSchema.nullable(),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  endReason: z.string().nullable(),
  live: z.boolean(),
  estimates: z.number().int().nonnegative().describe('estimates kept (running and final)'),
  firstSeq: z.number().int().describe('seq of the oldest kept estimate'),
  final: estimateSchema.nullable(),
  stats: sessionStats.optional(),
});

export const sessionPageResponse = z.object({
  sessions: z.array(sessionSummaryResponse),
  nextCursor: z.string().nullable().describe('pass as cursor for the next page; null on the last'),
});

export const estimatesQuery = z
  .object({
    format: z.enum(['json', 'csv']).default('json'),
    from: intFromQuery.min(-1).default(-1).describe('estimates after this seq'),
  })
  .strict();

export const estimatesResponse = z.object({
  sessionId: idSchema,
  roomId: idSchema,
  emotions: z.array(z.enum(EMOTIONS)),
  estimates: z.array(estimateSchema),
});

export const markersResponse = z.object({
  sessionId: idSchema,
  studyId: idSchema.nullable(),
  markers: z.array(
    z.object({
      event: z.enum(MARKER_EVENTS),
      position: z.number().describe('stimulus second'),
      mediaTime: z.number().describe('the viewer session’s media time at the marker, seconds'),
    }),
  ),
});

export const placementResponse = z.object({
  nodeId: z.string(),
  url: z.string(),
  sessions: z.number().int(),
  maxSessions: z.number().int(),
});

export const studyResponse = z.object({
  study: studySchema,
  viewerLinks: z.record(z.string(), z.string()).describe('room -> the viewer page URL'),
});

export const studiesResponse = z.object({ studies: z.array(studySchema) });

export const studyCreateBody = studyCreateSchema;

export const thumbnailQuery = z.object({ at: z.coerce.number().nonnegative().default(0) }).strict();

export const timelineQuery = z.object({ format: z.enum(['json', 'csv']).default('json') }).strict();

export const audienceTimelineSchema = z.object({
  studyId: idSchema,
  emotions: z.array(z.string()),
  durationS: z.number().nullable(),
  audience: z.array(
    z.object({
      second: z.number(),
      viewers: z.number(),
      mean: z.array(z.number()),
      std: z.array(z.number()),
    }),
  ),
  viewers: z.array(
    z.object({
      sessionId: idSchema,
      roomId: idSchema,
      seconds: z.record(z.string(), z.array(z.number())).describe('stimulus second -> mean values'),
      analysis: analysisModeSchema.describe(
        'where the features were computed: the server, or the viewer (edge)',
      ),
    }),
  ),
  peaks: z.record(
    z.string(),
    z.array(z.object({ second: z.number(), mean: z.number(), viewers: z.number() })),
  ),
});

export const timelineResponse = z.object({ study: studySchema, timeline: audienceTimelineSchema });

export const healthResponse = z.object({ ok: z.literal(true) });

export const readinessResponse = z.object({
  ready: z.boolean(),
  sessions: z.number().int(),
  checks: z.record(z.string(), z.object({ ok: z.boolean(), ms: z.number(), error: z.string().optional() })),
});

export { errorBodySchema };
