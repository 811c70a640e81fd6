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

export const KNOWN_FEATURE_SPECS: Readonly<Record<string, FeatureSpec>> = {
  [ABAW5_REFERENCE_SPEC.id]: ABAW5_REFERENCE_SPEC,
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
