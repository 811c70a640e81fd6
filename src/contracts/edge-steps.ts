import { z } from 'zod';
import type { FeatureStep } from './feature-step.js';

/**
 * Feature steps computed at the edge (a viewer's browser, a native app), as they travel on the frame
 * ingest WebSocket (`/v1/ingest`, docs/ingest.md): binary messages of kind 3, the ingest's 16-byte
 * header with the step's media time, then this payload, all little-endian:
 *
 *   byte 0        flags: bit 0 a face is present, bit 1 the step had a video frame
 *   bytes 1-3     zero
 *   4 x float32   face confidence, then the face box x, y, w, h (normalised; zeros without a face)
 *   2 x float32   voice activity, audio coverage (0..1 each)
 *   float32 x V   the video vector (V = the spec's video dim)
 *   float32 x A   the audio vector (A = the spec's audio dim)
 *
 * One layout, encoded and decoded by these two functions on both sides. The server treats every field
 * as untrusted: the payload must have exactly this size, every number must be finite and within bounds,
 * and the step's time must fall on the spec's step grid.
 */

export const EDGE_STEP_FIXED_BYTES = 4 + 4 * 7;
/** No feature of the spec comes near this magnitude; a value past it is not a feature. */
export const EDGE_FEATURE_LIMIT = 1e4;

/** What a client computing its own features declares in its `start`: it must equal the model's spec. */
export const edgeAnalysisSchema = z
  .object({
    mode: z.literal('edge'),
    /** The feature spec id, e.g. eri-face-audio-v2 (the id carries its version). */
    spec: z.string().min(1).max(100),
    videoDim: z.number().int().positive().max(100_000),
    audioDim: z.number().int().positive().max(100_000),
    rateHz: z.number().positive().max(1000),
  })
  .strict();

export type EdgeAnalysis = z.infer<typeof edgeAnalysisSchema>;

export interface EdgeStepLayout {
  videoDim: number;
  audioDim: number;
}

export function edgeStepBytes(layout: EdgeStepLayout): number {
  return EDGE_STEP_FIXED_BYTES + 4 * (layout.videoDim + layout.audioDim);
}

/** A step's payload (without the ingest header, which carries its time). */
export function encodeEdgeStep(step: FeatureStep, layout: EdgeStepLayout): Uint8Array {
  if (step.video.length !== layout.videoDim || step.audio.length !== layout.audioDim)
    throw new RangeError(
      `step vectors are ${step.video.length} + ${step.audio.length}, the layout ${layout.videoDim} + ${layout.audioDim}`,
    );
  const out = new Uint8Array(edgeStepBytes(layout));
  const view = new DataView(out.buffer);
  view.setUint8(0, (step.face.present ? 1 : 0) | (step.hasFrame ? 2 : 0));
  const box = step.face.box ?? [0, 0, 0, 0];
  const scalars = [step.face.confidence, ...box, step.speech, step.audioCoverage];
  let at = 4;
  for (const v of [...scalars, ...step.video, ...step.audio]) {
    view.setFloat32(at, v, true);
    at += 4;
  }
  return out;
}

export type DecodedEdgeStep =
  | { ok: true; step: Omit<FeatureStep, 'index' | 't'> }
  | { ok: false; message: string };

function inUnit(v: number): boolean {
  return v >= 0 && v <= 1;
}

/** Decodes and checks a payload; every failure says what was wrong. Costs O(payload) at most. */
export function decodeEdgeStep(payload: Uint8Array, layout: EdgeStepLayout): DecodedEdgeStep {
  const expected = edgeStepBytes(layout);
  if (payload.byteLength !== expected)
    return {
      ok: false,
      message: `a feature step is ${expected} bytes for this spec, not ${payload.byteLength}`,
    };
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const flags = view.getUint8(0);
  if ((flags & ~3) !== 0 || view.getUint8(1) | view.getUint8(2) | view.getUint8(3))
    return { ok: false, message: 'unknown flags in a feature step (bits 0-1 of byte 0 only)' };
  const read = (i: number) => view.getFloat32(4 + 4 * i, true);
  const [confidence, x, y, w, h, speech, audioCoverage] = [0, 1, 2, 3, 4, 5, 6].map(read) as number[] as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (![confidence, speech, audioCoverage].every(inUnit))
    return {
      ok: false,
      message: 'face confidence, voice activity and audio coverage must each be in [0, 1]',
    };
  const present = (flags & 1) === 1;
  const box = [x, y, w, h] as const;
  if (!box.every((v) => Number.isFinite(v) && v >= -1 && v <= 2) || (present && !(w > 0 && h > 0)))
    return {
      ok: false,
      message: 'the face box must be finite, within [-1, 2], with a positive size for a face',
    };
  const video = new Float32Array(layout.videoDim);
  const audio = new Float32Array(layout.audioDim);
  for (let i = 0; i < video.length + audio.length; i++) {
    const v = read(7 + i);
    if (!(Math.abs(v) <= EDGE_FEATURE_LIMIT))
      return {
        ok: false,
        message: `feature ${i} is ${v}: features must be finite and within ±${EDGE_FEATURE_LIMIT}`,
      };
    if (i < video.length) video[i] = v;
    else audio[i - video.length] = v;
  }
  return {
    ok: true,
    step: {
      video,
      audio,
      face: { present, confidence, ...(present ? { box } : {}) },
      speech,
      audioCoverage,
      hasFrame: (flags & 2) === 2,
    },
  };
}

/** The face stage's networks (converted from @vladmandic/human) and the crop graphs that feed them. */
export const FACE_NETWORK_IDS = ['detector', 'mesh', 'iris', 'expression'] as const;
export const CROP_GRAPH_IDS = ['detectorInput', 'meshCrop', 'expressionCrop', 'eyeCrops'] as const;
/** The graphs an edge client fetches from `/v1/edge/graphs/{id}`: the face stage's, and the VAD. */
export const EDGE_GRAPH_IDS = [...FACE_NETWORK_IDS, ...CROP_GRAPH_IDS, 'vad'] as const;
export const edgeGraphIdSchema = z.enum(EDGE_GRAPH_IDS);
export type EdgeGraphId = z.infer<typeof edgeGraphIdSchema>;
