import { z } from 'zod';

/** Room and session ids: short, printable, safe in URLs, logs and Redis keys. */
export const idSchema = z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, 'ids are 1-64 letters, digits, . _ : -');
