import { z } from 'zod';

/** A yes/no setting as environment variables and flags give it. */
export const envFlagSchema = z
  .union([z.boolean(), z.enum(['1', '0', 'true', 'false', 'yes', 'no'])])
  .transform((v) => v === true || v === '1' || v === 'true' || v === 'yes');
