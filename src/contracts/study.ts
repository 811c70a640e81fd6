import { z } from 'zod';
import type { AnalysisMode } from './estimate.js';
import { idSchema } from './ids.js';

/**
 * Reaction studies: an operator registers a stimulus (a video the server serves, or a URL), viewers
 * watch it while they are measured, and their estimates are placed on the stimulus's own timeline by
 * the play/pause/seek/buffering/ended markers their viewer page sends.
 */

export const studyCreateSchema = z
  .object({
    name: z.string().min(1).max(200),
    /** Rooms viewers join; one viewer link each. */
    rooms: z.array(idSchema).min(1).max(100).default(['study']),
    /** A stimulus served from elsewhere; otherwise upload one (PUT /v1/studies/:id/stimulus). */
    stimulusUrl: z.string().url().optional(),
    /** Seconds; read from the uploaded file when absent. */
    durationS: z
      .number()
      .positive()
      .max(6 * 3600)
      .optional(),
    /** Media seconds each viewer estimate covers (shorter than the live default, for a sharper curve). */
    windowSeconds: z.number().positive().max(60).default(5),
  })
  .strict();

export type StudyCreate = z.infer<typeof studyCreateSchema>;

export const studySchema = z.object({
  id: idSchema,
  name: z.string(),
  rooms: z.array(idSchema),
  stimulus: z.union([
    z.object({ kind: z.literal('url'), url: z.string().url() }),
    z.object({ kind: z.literal('file'), contentType: z.string(), bytes: z.number().int().nonnegative() }),
    z.object({ kind: z.literal('none') }),
  ]),
  durationS: z.number().positive().nullable(),
  windowSeconds: z.number().positive(),
  createdAt: z.string(),
});

export type Study = z.infer<typeof studySchema>;

export const MARKER_EVENTS = ['play', 'pause', 'seek', 'buffering', 'ended'] as const;
export type MarkerEvent = (typeof MARKER_EVENTS)[number];

/** What a viewer page reports, as it happens; `position` is the stimulus's currentTime in seconds. */
export const stimulusMarkerSchema = z
  .object({
    studyId: idSchema,
    event: z.enum(MARKER_EVENTS),
    position: z
      .number()
      .nonnegative()
      .max(6 * 3600),
  })
  .strict();

export type StimulusMarker = z.infer<typeof stimulusMarkerSchema>;

/** One viewer's trace on the stimulus timeline: per stimulus second, the mean of its estimates there. */
export interface ViewerTrace {
  sessionId: string;
  roomId: string;
  /** second -> values in emotion order (seconds the viewer did not watch are absent). */
  seconds: Record<number, number[]>;
  /** Where this viewer's features were computed. */
  analysis: AnalysisMode;
}

export interface AudienceTimeline {
  studyId: string;
  emotions: readonly string[];
  durationS: number | null;
  /** Per stimulus second 0 … n-1: viewers contributing, and per emotion their mean and spread (std). */
  audience: { second: number; viewers: number; mean: number[]; std: number[] }[];
  viewers: ViewerTrace[];
  /** Per emotion, the seconds with the highest audience mean (a thumbnail of the stimulus for each). */
  peaks: Record<string, { second: number; mean: number; viewers: number }[]>;
}
