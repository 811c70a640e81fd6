import { z } from 'zod';
import { edgeAnalysisSchema } from './edge-steps.js';
import { idSchema } from './ids.js';
import { errorMessageSchema, estimateMessageSchema, sessionEndedMessageSchema } from './stream-protocol.js';
import { MARKER_EVENTS } from './study.js';

/**
 * The WebSocket frame ingest (`/v1/ingest`, docs/ingest.md), shared by the server and the client
 * package: JSON control messages, binary media messages (a 16-byte header, then the payload), and what
 * the server answers. Estimates and a session's end come in the same envelopes as on /v1/stream.
 */

/** Byte 0: the kind; bytes 1-7: zero; bytes 8-15: media time in seconds (float64 LE); then the payload. */
export const INGEST_HEADER_BYTES = 16;
/**
 * 1: a JPEG frame; 2: PCM, signed 16-bit little-endian, mono, 16 kHz; 3: a feature step computed by the
 * client (edge mode, contracts/edge-steps.ts).
 */
export const INGEST_KIND = { jpeg: 1, pcm: 2, features: 3 } as const;
export type IngestKind = (typeof INGEST_KIND)[keyof typeof INGEST_KIND];
export const INGEST_SAMPLE_RATE = 16_000;

export const ingestStartSchema = z
  .object({
    type: z.literal('start'),
    roomId: idSchema,
    sessionId: idSchema.optional(),
    studyId: idSchema.optional(),
    /** Present when the client computes the features itself and sends feature steps, not media. */
    analysis: edgeAnalysisSchema.optional(),
  })
  .strict();

export type IngestStart = z.infer<typeof ingestStartSchema>;

export const ingestControlSchema = z.discriminatedUnion('type', [
  ingestStartSchema,
  z.object({ type: z.literal('end') }).strict(),
  // A study viewer's stimulus event, at `mediaTime` on this connection's own media clock (its frames' t).
  z
    .object({
      type: z.literal('stimulus'),
      event: z.enum(MARKER_EVENTS),
      position: z
        .number()
        .nonnegative()
        .max(6 * 3600),
      mediaTime: z.number().nonnegative().max(86_400),
    })
    .strict(),
]);

export type IngestControl = z.infer<typeof ingestControlSchema>;

export const ingestServerMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('started'), sessionId: z.string(), roomId: z.string() }),
  estimateMessageSchema,
  sessionEndedMessageSchema,
  z.object({ type: z.literal('stimulus.marked'), event: z.enum(MARKER_EVENTS) }),
  errorMessageSchema,
]);

export type IngestServerMessage = z.infer<typeof ingestServerMessageSchema>;

/** One binary media message: the header, then `payload`. */
export function ingestMessage(kind: IngestKind, t: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(INGEST_HEADER_BYTES + payload.byteLength);
  const view = new DataView(out.buffer);
  view.setUint8(0, kind);
  view.setFloat64(8, t, true);
  out.set(payload, INGEST_HEADER_BYTES);
  return out;
}

/** 16-bit little-endian PCM from samples in [-1, 1]. */
export function pcm16(samples: Float32Array): Uint8Array {
  const out = new Uint8Array(samples.length * 2);
  const view = new DataView(out.buffer);
  samples.forEach((s, i) => {
    view.setInt16(2 * i, Math.max(-32768, Math.min(32767, Math.round(s * 32767))), true);
  });
  return out;
}
