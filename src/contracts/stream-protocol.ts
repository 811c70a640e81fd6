import { z } from 'zod';
import { EMOTIONS } from './emotions.js';
import { errorBodySchema } from './error-body.js';
import { estimateSchema } from './estimate.js';
import { idSchema } from './ids.js';
import { modelInfoSchema } from './model-info.js';

/**
 * The subscriber protocol on `/v1/stream` (JSON over WebSocket, protocol 1), shared by the server and
 * the client SDK. The server greets with `hello`; the client subscribes to a session, a room or all
 * sessions, optionally resuming from the last sequence number it saw per session; the server replays
 * what it missed from history, then goes live, with no gap and no duplicate.
 */

export const STREAM_PROTOCOL_VERSION = 1;

export const targetSchema = z.union([
  z.object({ sessionId: idSchema }).strict(),
  z.object({ roomId: idSchema }).strict(),
  z.object({ all: z.literal(true) }).strict(),
]);

export type StreamTarget = z.infer<typeof targetSchema>;

export const clientMessageSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('subscribe'),
      id: z.number().int().nonnegative(),
      target: targetSchema,
      /** Last sequence number seen per session: the server replays everything after it. */
      resume: z.record(idSchema, z.number().int().min(-1)).optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('unsubscribe'),
      id: z.number().int().nonnegative(),
      subscription: z.string().min(1).max(64),
    })
    .strict(),
  z.object({ type: z.literal('ping'), id: z.number().int().nonnegative().optional() }).strict(),
]);

export type ClientMessage = z.infer<typeof clientMessageSchema>;

export const roomAggregateSchema = z.object({
  roomId: z.string(),
  /** Media-independent: the aggregate is over each viewer's latest running estimate. */
  at: z.string(),
  viewers: z.number().int().nonnegative(),
  mean: z.array(z.number()),
  std: z.array(z.number()),
  emotions: z.array(z.string()).readonly(),
});

export type RoomAggregate = z.infer<typeof roomAggregateSchema>;

export const sessionStartedSchema = z.object({
  sessionId: z.string(),
  roomId: z.string(),
  at: z.string(),
  studyId: z.string().optional(),
});

/** How a session ended, the same on /v1/stream and /v1/ingest (`session.ended`'s data). */
export const sessionEndedSchema = z.object({
  sessionId: z.string(),
  roomId: z.string(),
  at: z.string(),
  /** normal, client-gone, error, shutdown, … */
  reason: z.string(),
  error: errorBodySchema.optional(),
});

export type SessionEnded = z.infer<typeof sessionEndedSchema>;

/** A session's end as every endpoint says it: these fields and no others (a session's stats stay in the log). */
export function sessionEndedData(e: SessionEnded): SessionEnded {
  return {
    sessionId: e.sessionId,
    roomId: e.roomId,
    at: e.at,
    reason: e.reason,
    ...(e.error ? { error: e.error } : {}),
  };
}

export const estimateMessageSchema = z.object({ type: z.literal('estimate'), data: estimateSchema });
export const sessionEndedMessageSchema = z.object({
  type: z.literal('session.ended'),
  data: sessionEndedSchema,
});
/** `{type: 'error', code, message}`: the one error message of every WebSocket endpoint. */
export const errorMessageSchema = errorBodySchema.extend({
  type: z.literal('error'),
  /** The request (a subscribe's id) it answers, when it answers one. */
  id: z.number().int().nonnegative().optional(),
  /** With ERI_ERR_HISTORY_GONE: the oldest seq the history still holds. */
  firstAvailableSeq: z.number().int().nonnegative().optional(),
});

const streamEventSchemas = [
  estimateMessageSchema,
  z.object({ type: z.literal('session.started'), data: sessionStartedSchema }),
  sessionEndedMessageSchema,
  z.object({ type: z.literal('room.aggregate'), data: roomAggregateSchema }),
] as const;

/** The events a subscription delivers. */
export const streamEventSchema = z.discriminatedUnion('type', [...streamEventSchemas]);

export type StreamEvent = z.infer<typeof streamEventSchema>;

export const helloSchema = z.object({
  type: z.literal('hello'),
  protocol: z.number().int(),
  model: modelInfoSchema,
  /** The emotions of every estimate's `values`, in order. */
  emotions: z.array(z.string()).readonly(),
  heartbeatMs: z.number().int().positive(),
});

export type Hello = z.infer<typeof helloSchema>;

/** Everything the server sends on /v1/stream; the client package validates each message with it. */
export const serverMessageSchema = z.discriminatedUnion('type', [
  helloSchema,
  z.object({
    type: z.literal('subscribed'),
    id: z.number().int().nonnegative(),
    subscription: z.string(),
    target: targetSchema,
    replayed: z.number().int().nonnegative(),
  }),
  z.object({ type: z.literal('unsubscribed'), id: z.number().int().nonnegative(), subscription: z.string() }),
  ...streamEventSchemas,
  z.object({ type: z.literal('heartbeat'), at: z.string() }),
  z.object({ type: z.literal('pong'), id: z.number().int().nonnegative().optional() }),
  errorMessageSchema,
]);

export type ServerMessage = z.infer<typeof serverMessageSchema>;
export type ErrorMessage = z.infer<typeof errorMessageSchema>;

export const STREAM_EMOTIONS = EMOTIONS;
