import { z } from 'zod';

/** The model behind the estimates, as every client is told it (stream hello, signalling join). */
export const modelInfoSchema = z.object({
  name: z.string(),
  version: z.string(),
  /** False for random weights: the numbers mean nothing, and every page says so. */
  trained: z.boolean(),
  /**
   * True when the model learned a teacher's expression intensities under the seven ERI names (the
   * starter model), not self-reported reaction intensities: pages say "proxy model".
   */
  proxy: z.boolean(),
  /** Where this server shows the model card (a path on the same server). */
  card: z.string(),
});

export type ModelInfo = z.infer<typeof modelInfoSchema>;

/** The path of the model card page; `/v1/model` has the card as JSON. */
export const MODEL_CARD_PATH = '/model';
