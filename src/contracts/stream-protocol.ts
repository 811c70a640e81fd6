import { z } from 'zod';
import { EMOTIONS } from './emotions.js';
import type { ErrorBody } from './error-body.js';
import type { Estimate } from './estimate.js';
import { idSchema } from './signalling.js';

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

export interface RoomAggregate {
  roomId: string;
  /** Media-independent: the aggregate is over each viewer's latest running estimate. */
  at: string;
  viewers: number;
  mean: number[];
  std: number[];
  emotions: readonly string[];
}

/** The events a subscription delivers. */
export type StreamEvent =
  | { type: 'estimate'; data: Estimate }
  | { type: 'session.started'; data: { sessionId: string; roomId: string; at: string; studyId?: string } }
  | {
      type: 'session.ended';
      data: {
        sessionId: string;
        roomId: string;
        at: string;
        reason: string;
        error?: ErrorBody;
      };
    }
  | { type: 'room.aggregate'; data: RoomAggregate };

export type ServerMessage =
  | {
      type: 'hello';
      protocol: number;
      model: { name: string; version: string; trained: boolean };
      emotions: readonly string[];
      heartbeatMs: number;
    }
  | { type: 'subscribed'; id: number; subscription: string; target: StreamTarget; replayed: number }
  | { type: 'unsubscribed'; id: number; subscription: string }
  | StreamEvent
  | { type: 'heartbeat'; at: string }
  | { type: 'pong'; id?: number }
  | ({ type: 'error'; id?: number; firstAvailableSeq?: number } & ErrorBody);

export const STREAM_EMOTIONS = EMOTIONS;
