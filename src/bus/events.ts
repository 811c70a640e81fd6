import type { ErrorBody } from '../contracts/error-body.js';
import type { Estimate } from '../contracts/estimate.js';
import { type RoomAggregate, sessionEndedData } from '../contracts/stream-protocol.js';

/** What flows on the bus: estimates and session events (per session, ordered) and room aggregates. */
export type BusEvent =
  | { kind: 'estimate'; sessionId: string; roomId: string; estimate: Estimate }
  | { kind: 'session.started'; sessionId: string; roomId: string; at: string; studyId?: string }
  | {
      kind: 'session.ended';
      sessionId: string;
      roomId: string;
      at: string;
      reason: string;
      error?: ErrorBody;
    }
  | { kind: 'room.aggregate'; roomId: string; aggregate: RoomAggregate };

const ENCODED = Symbol('eri.encoded');

/**
 * The wire message for subscribers as UTF-8 bytes, encoded once per event and cached on it: every
 * subscriber's socket gets the same buffer (sent as a text frame), so fan-out costs no JSON work and no
 * re-encoding per subscriber.
 */
export function encodedMessage(event: BusEvent): Buffer {
  const holder = event as BusEvent & { [ENCODED]?: Buffer };
  let bytes = holder[ENCODED];
  if (!bytes) {
    bytes = Buffer.from(wireMessage(event), 'utf8');
    Object.defineProperty(holder, ENCODED, { value: bytes, enumerable: false });
  }
  return bytes;
}

/** The wire message for subscribers as JSON text. */
export function wireMessage(event: BusEvent): string {
  switch (event.kind) {
    case 'estimate':
      return JSON.stringify({ type: 'estimate', data: event.estimate });
    case 'session.started':
      return JSON.stringify({
        type: 'session.started',
        data: {
          sessionId: event.sessionId,
          roomId: event.roomId,
          at: event.at,
          ...(event.studyId ? { studyId: event.studyId } : {}),
        },
      });
    case 'session.ended':
      return JSON.stringify({ type: 'session.ended', data: sessionEndedData(event) });
    case 'room.aggregate':
      return JSON.stringify({ type: 'room.aggregate', data: event.aggregate });
  }
}
