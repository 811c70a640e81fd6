import { z } from 'zod';
import { EMOTIONS } from './emotions.js';

/**
 * A running or final estimate, as the pipeline emits it and every consumer receives it (CLI output,
 * WebSocket subscribers, history). Versioned: `v` changes when a field changes meaning.
 */

export const ESTIMATE_VERSION = 1;

/**
 * Where a session's features were computed: `server` from its media (WebRTC, the frame ingest), `edge`
 * in the viewer's own browser or app, which sent only feature steps (docs/ingest.md).
 */
export const ANALYSIS_MODES = ['server', 'edge'] as const;
export const analysisModeSchema = z.enum(ANALYSIS_MODES);
export type AnalysisMode = z.infer<typeof analysisModeSchema>;

export const intensitiesSchema = z.object(
  Object.fromEntries(EMOTIONS.map((e) => [e, z.number().min(0).max(1)])) as Record<
    (typeof EMOTIONS)[number],
    z.ZodNumber
  >,
);

export const estimateSchema = z.object({
  v: z.literal(ESTIMATE_VERSION),
  sessionId: z.string(),
  roomId: z.string(),
  /** 0, 1, 2 … per session; the final estimate takes the next number. */
  seq: z.number().int().nonnegative(),
  /** Media time covered, in seconds from the session's first step. */
  windowStart: z.number().nonnegative(),
  windowEnd: z.number().nonnegative(),
  /** Wall-clock time the estimate was made (ISO 8601). */
  wallTime: z.string(),
  intensities: intensitiesSchema,
  /** The same values in the fixed emotion order (EMOTIONS). */
  values: z.array(z.number().min(0).max(1)).length(EMOTIONS.length),
  coverage: z.object({
    /** Fraction of the window's steps with a face. */
    face: z.number().min(0).max(1),
    /** Fraction of the window's steps with speech (voice activity > 0.5). */
    speech: z.number().min(0).max(1),
  }),
  modalities: z.array(z.enum(['video', 'audio'])),
  /** True for the estimate over the whole session, emitted once when it ends. */
  final: z.boolean(),
  /** name@version of the model package. */
  model: z.string(),
  /** Where the features were computed; absent in history written before edge mode existed (server). */
  analysis: analysisModeSchema.optional(),
  /** From the last feature step of the window being ready to this estimate being made, in ms. */
  latencyMs: z.number().nonnegative(),
  /** Steps in the window. */
  steps: z.number().int().nonnegative(),
  /**
   * For a viewer in a study: the stimulus position (seconds into the stimulus) at the window's end, or
   * null when the stimulus was not playing then (before the first play, paused, buffering, ended).
   */
  stimulus: z.object({ studyId: z.string(), position: z.number().nonnegative().nullable() }).optional(),
});

export type Estimate = z.infer<typeof estimateSchema>;

export function namedIntensities(values: ArrayLike<number>): Estimate['intensities'] {
  return Object.fromEntries(
    EMOTIONS.map((e, i) => [e, Math.min(1, Math.max(0, values[i] ?? 0))]),
  ) as Estimate['intensities'];
}
