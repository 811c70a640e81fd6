import { z } from 'zod';

/**
 * The one shape of an error a client sees: a REST body, a signalling response's `error`, the fields of a
 * stream or ingest `{type: 'error', …}` message and a session's end. `code` is one of the table in
 * src/errors.ts (docs/errors.md); a client branches on it, never on the message.
 */
export const errorBodySchema = z.object({ code: z.string().regex(/^ERI_ERR_[A-Z_]+$/), message: z.string() });

export type ErrorBody = z.infer<typeof errorBodySchema>;
