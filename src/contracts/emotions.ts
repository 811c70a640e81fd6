/** The seven Hume-Reaction emotions, in the order the model's head emits them. */
export const EMOTIONS = [
  'Adoration',
  'Amusement',
  'Anxiety',
  'Disgust',
  'Empathic-Pain',
  'Fear',
  'Surprise',
] as const;

export type Emotion = (typeof EMOTIONS)[number];
