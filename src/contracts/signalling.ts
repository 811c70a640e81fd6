import { z } from 'zod';
import type { ErrorBody } from './error-body.js';
import type { Estimate } from './estimate.js';
import { idSchema } from './ids.js';
import type { ModelInfo } from './model-info.js';
import type { SessionEnded } from './stream-protocol.js';
import { MARKER_EVENTS } from './study.js';

/**
 * The publisher signalling protocol on `/v1/signal` (JSON over WebSocket), shared by the server, the
 * publisher page and `eri publish`. Requests carry an `id`; each gets exactly one response with that id,
 * `ok: true` with a result or `ok: false` with a typed error. The server also pushes notifications
 * (this publisher's own estimates, the session's end). mediasoup's own parameter objects (DTLS, RTP) are
 * passed through and validated by mediasoup, whose complaints come back as ERI_ERR_MALFORMED_MESSAGE.
 */

export const SIGNAL_PROTOCOL_VERSION = 1;

export { idSchema } from './ids.js';

const opaque = z.record(z.string(), z.unknown());
const kind = z.enum(['audio', 'video']);

export const SIGNAL_METHODS = [
  'join',
  'createWebRtcTransport',
  'connectWebRtcTransport',
  'createPlainTransport',
  'produce',
  'pauseProducer',
  'resumeProducer',
  'requestEstimate',
  'stimulus',
  'leave',
] as const;

export type SignalMethod = (typeof SIGNAL_METHODS)[number];

export const signalParamsSchemas = {
  /** `studyId`: this publisher is a viewer in that study (the room must be one of the study's). */
  join: z.object({ roomId: idSchema, sessionId: idSchema.optional(), studyId: idSchema.optional() }).strict(),
  createWebRtcTransport: z.object({}).strict(),
  connectWebRtcTransport: z.object({ transportId: z.string().min(1), dtlsParameters: opaque }).strict(),
  createPlainTransport: z.object({ kind }).strict(),
  produce: z.object({ transportId: z.string().min(1), kind, rtpParameters: opaque }).strict(),
  pauseProducer: z.object({ producerId: z.string().min(1) }).strict(),
  resumeProducer: z.object({ producerId: z.string().min(1) }).strict(),
  requestEstimate: z.object({}).strict(),
  /** A stimulus event on the viewer page (play, pause, seek, buffering, ended) at a stimulus position. */
  stimulus: z
    .object({
      event: z.enum(MARKER_EVENTS),
      position: z
        .number()
        .nonnegative()
        .max(6 * 3600),
    })
    .strict(),
  leave: z.object({}).strict(),
} satisfies Record<SignalMethod, z.ZodType>;

/** The envelope every request shares; the params are checked per method afterwards. */
export const signalEnvelopeSchema = z
  .object({
    id: z.number().int().nonnegative(),
    method: z.string(),
    params: z.unknown().optional(),
  })
  .strict();

export type SignalEnvelope = z.infer<typeof signalEnvelopeSchema>;

export type SignalParams<M extends SignalMethod> = z.infer<(typeof signalParamsSchemas)[M]>;

export type SignalError = ErrorBody;

export type SignalResponse =
  | { id: number | null; ok: true; result: unknown }
  | { id: number | null; ok: false; error: SignalError };

export type SignalNotification =
  | { notification: 'estimate'; data: Estimate }
  | { notification: 'session.ended'; data: SessionEnded };

export interface JoinResult {
  sessionId: string;
  roomId: string;
  routerRtpCapabilities: unknown;
  protocol: number;
  /** The model behind the estimates; `trained: false` and `proxy: true` must be shown to the viewer. */
  model: ModelInfo;
}

export interface WebRtcTransportResult {
  id: string;
  iceParameters: unknown;
  iceCandidates: unknown;
  dtlsParameters: unknown;
}

export interface PlainTransportResult {
  id: string;
  ip: string;
  port: number;
  rtcpPort: number;
}
