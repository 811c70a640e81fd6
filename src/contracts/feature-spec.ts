import { z } from 'zod';

/**
 * A feature spec names what a model's inputs mean: its id, the per-step vector of each modality as named
 * blocks, and the analysis rate. Model packages declare one; extractors produce one; the two must agree
 * exactly, because a model fed features laid out differently returns confident nonsense.
 *
 * It lives in contracts/ because both the model (which checks a card) and the feature extractor (which
 * produces steps) import it, and neither may import the other.
 */

export const featureBlockSchema = z.object({
  name: z.string().min(1),
  size: z.number().int().positive(),
  description: z.string().optional(),
});

export const modalitySpecSchema = z
  .object({
    dim: z.number().int().positive(),
    layout: z.array(featureBlockSchema).min(1),
  })
  .refine((m) => m.layout.reduce((s, b) => s + b.size, 0) === m.dim, {
    message: 'layout block sizes must add up to dim',
  });

export const featureSpecSchema = z.object({
  id: z.string().min(1),
  /** Steps per second of media time; null when the spec does not fix it (e.g. the reference's own features). */
  rateHz: z.number().positive().nullable(),
  video: modalitySpecSchema,
  audio: modalitySpecSchema,
  description: z.string().optional(),
});

export type FeatureBlock = z.infer<typeof featureBlockSchema>;
export type ModalitySpec = z.infer<typeof modalitySpecSchema>;
export type FeatureSpec = z.infer<typeof featureSpecSchema>;

/** The reference (HKUST-NISL, mode vamm): ResNet-18 face embedding + OpenFace-style AUs; 1024-d audio. */
export const ABAW5_REFERENCE_SPEC: FeatureSpec = {
  id: 'abaw5-reference',
  rateHz: null,
  description:
    'The ABAW5 ERI reference features: per video frame a 512-d holistic face embedding, 17 action-unit ' +
    'intensities and 18 action-unit presences; per audio step a 1024-d spectral/audio embedding.',
  video: {
    dim: 547,
    layout: [
      { name: 'holistic', size: 512, description: 'holistic face embedding (ResNet-18)' },
      { name: 'au_intensity', size: 17, description: 'action-unit intensities' },
      { name: 'au_presence', size: 18, description: 'action-unit presences' },
    ],
  },
  audio: {
    dim: 1024,
    layout: [{ name: 'audio', size: 1024, description: 'per-step audio features' }],
  },
};

/** A spec for features whose meaning the package does not know (`eri model init --video-dim/--audio-dim`). */
export function customFeatureSpec(videoDim: number, audioDim: number): FeatureSpec {
  return {
    id: `custom-${videoDim}x${audioDim}`,
    rateHz: null,
    description: 'Features of unspecified meaning; only their sizes are known.',
    video: { dim: videoDim, layout: [{ name: 'video', size: videoDim }] },
    audio: { dim: audioDim, layout: [{ name: 'audio', size: audioDim }] },
  };
}

/** Names of the action-unit-like mesh features, in vector order (definitions: docs/features.md). */
export const ACTION_UNITS = [
  'AU01_inner_brow_raise',
  'AU02_outer_brow_raise',
  'AU04_brow_lower',
  'AU05_upper_lid_raise',
  'AU06_cheek_raise',
  'AU07_lid_tighten',
  'AU09_nose_wrinkle',
  'AU10_upper_lip_raise',
  'AU12_lip_corner_pull',
  'AU14_dimple',
  'AU15_lip_corner_depress',
  'AU17_chin_raise',
  'AU20_lip_stretch',
  'AU23_lip_tighten',
  'AU25_lips_part',
  'AU26_jaw_drop',
  'AU45_blink',
] as const;

/** The expression network's classes, in its output order. */
export const EXPRESSIONS = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'] as const;

export const MEL_BANDS = 64;
export const MFCC_COEFFS = 13;

/**
 * The project's own extractor (src/features): 10 steps per second of media time. v2 (over v1): faces
 * are tracked between detector frames, and the expression crop is framed by the mesh, not by the box.
 * Video: holistic = the expression network's 256-d pooled embedding + its 7 probabilities; local = 17
 * action-unit-like mesh measures, head pose, and the face flag with its confidence. Audio: log-mel and
 * MFCC summarised over the step (mean, std), log energy, voice activity, and the audio-present flag.
 */
export const ERI_FACE_AUDIO_SPEC: FeatureSpec = {
  id: 'eri-face-audio-v2',
  rateHz: 10,
  description:
    'eri-stream extractor v2: @vladmandic/human face mesh (tracked between detector frames) + expression net on a mesh-framed crop, log-mel/MFCC + Silero VAD',
  video: {
    dim: 256 + 7 + ACTION_UNITS.length + 3 + 2,
    layout: [
      {
        name: 'expression_embedding',
        size: 256,
        description: 'expression net global-average-pooled features',
      },
      { name: 'expression_probs', size: 7, description: EXPRESSIONS.join(', ') },
      { name: 'action_units', size: ACTION_UNITS.length, description: ACTION_UNITS.join(', ') },
      { name: 'head_pose', size: 3, description: 'yaw, pitch, roll in radians' },
      { name: 'face', size: 2, description: 'face present (0/1), detector box confidence' },
    ],
  },
  audio: {
    dim: 2 * MEL_BANDS + 2 * MFCC_COEFFS + 3,
    layout: [
      { name: 'log_mel_mean', size: MEL_BANDS },
      { name: 'log_mel_std', size: MEL_BANDS },
      { name: 'mfcc_mean', size: MFCC_COEFFS },
      { name: 'mfcc_std', size: MFCC_COEFFS },
      { name: 'log_energy', size: 1, description: 'log10 of the mean square sample, floored at -10' },
      { name: 'voice_activity', size: 1, description: 'Silero VAD speech probability, mean over the step' },
      { name: 'audio_present', size: 1, description: 'fraction of the step covered by decoded audio' },
    ],
  },
};

/**
 * The same layout with the face mesh's eyes left unrefined (no iris net, 468 mesh points): a different
 * feature set, since the eye-lid measures and the expression crop's framing change (docs/features.md),
 * so models trained on one refuse the other.
 */
export const ERI_FACE_AUDIO_NO_IRIS_SPEC: FeatureSpec = {
  ...ERI_FACE_AUDIO_SPEC,
  id: `${ERI_FACE_AUDIO_SPEC.id}-noiris`,
  description: `${ERI_FACE_AUDIO_SPEC.description}; eyes not refined by the iris net`,
};

/** The spec the extractor produces with these face settings. */
export function faceAudioSpec(face: { iris?: boolean } = {}): FeatureSpec {
  return face.iris === false ? ERI_FACE_AUDIO_NO_IRIS_SPEC : ERI_FACE_AUDIO_SPEC;
}

/** Offset of a named block in a modality's vector. */
export function blockOffset(spec: ModalitySpec, name: string): number {
  let offset = 0;
  for (const block of spec.layout) {
    if (block.name === name) return offset;
    offset += block.size;
  }
  throw new Error(`internal: no block '${name}' in layout`);
}

export const KNOWN_FEATURE_SPECS: Readonly<Record<string, FeatureSpec>> = {
  [ABAW5_REFERENCE_SPEC.id]: ABAW5_REFERENCE_SPEC,
  [ERI_FACE_AUDIO_SPEC.id]: ERI_FACE_AUDIO_SPEC,
};

/** Why two specs differ, or an empty list when a model of one may be fed features of the other. */
export function featureSpecDifferences(a: FeatureSpec, b: FeatureSpec): string[] {
  const out: string[] = [];
  if (a.id !== b.id) out.push(`id '${a.id}' vs '${b.id}'`);
  if (a.rateHz !== b.rateHz) out.push(`rate ${a.rateHz ?? 'unset'} Hz vs ${b.rateHz ?? 'unset'} Hz`);
  for (const m of ['video', 'audio'] as const) {
    if (a[m].dim !== b[m].dim) out.push(`${m} dim ${a[m].dim} vs ${b[m].dim}`);
    const la = a[m].layout.map((x) => `${x.name}:${x.size}`).join(',');
    const lb = b[m].layout.map((x) => `${x.name}:${x.size}`).join(',');
    if (la !== lb) out.push(`${m} layout [${la}] vs [${lb}]`);
  }
  return out;
}
