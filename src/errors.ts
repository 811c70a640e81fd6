/**
 * Every error a user can see carries a stable `code` (ERI_ERR_*), so scripts and clients branch on the
 * code, never on the message. The table below is the single list of codes; `docs/errors.md` documents
 * each one and a test checks the two agree.
 */
export const ERROR_CODES = {
  /** Bad argument or input that the caller can fix. */
  ERI_ERR_INVALID_ARGUMENT: 'invalid argument',
  /** A file could not be read (missing, permissions). */
  ERI_ERR_FILE_READ: 'file could not be read',
  /** A safetensors file is malformed (truncated, bad header, offsets out of range). */
  ERI_ERR_SAFETENSORS_FORMAT: 'not a valid safetensors file',
  /** A tensor has a dtype the reader does not accept here. */
  ERI_ERR_TENSOR_DTYPE: 'tensor has the wrong dtype',
  /** A required tensor is absent from a weights or features file. */
  ERI_ERR_TENSOR_MISSING: 'required tensor is missing',
  /** A tensor has the wrong shape. */
  ERI_ERR_TENSOR_SHAPE: 'tensor has the wrong shape',
  /** A tensor holds NaN or infinite values. */
  ERI_ERR_TENSOR_VALUES: 'tensor holds non-finite values',
  /** A model package directory is malformed (model.json missing or invalid). */
  ERI_ERR_MODEL_PACKAGE: 'invalid model package',
  /** A model package's weights disagree with its card. */
  ERI_ERR_MODEL_MISMATCH: 'model weights disagree with the model card',
  /** The features offered to a model follow another feature spec than the model's. */
  ERI_ERR_FEATURE_SPEC_MISMATCH: 'feature spec mismatch',
  /** A modality is missing and the model card does not allow that. */
  ERI_ERR_MODALITY_MISSING: 'modality missing',
  /** ffmpeg could not decode the media (not media, truncated, unsupported, no streams). */
  ERI_ERR_MEDIA_DECODE: 'media could not be decoded',
  /** The face or audio models could not be loaded or run. */
  ERI_ERR_FEATURES: 'feature extraction failed',
  /** A mediasoup worker is missing or died. */
  ERI_ERR_MEDIA_WORKER: 'media worker failure',
  /** A signalling or ingest message is not JSON, not valid against its schema, or too large. */
  ERI_ERR_MALFORMED_MESSAGE: 'malformed message',
  /** A signalling method that does not exist. */
  ERI_ERR_UNKNOWN_METHOD: 'unknown method',
  /** A request that is valid but not now (e.g. produce before join). */
  ERI_ERR_INVALID_STATE: 'invalid state',
  /** A transport, producer, room or session that does not exist. */
  ERI_ERR_NOT_FOUND: 'not found',
  /** A configured limit was exceeded (message size or rate, frame size or rate, sessions). */
  ERI_ERR_LIMIT: 'limit exceeded',
  /** A resume asked for estimates the history no longer keeps. */
  ERI_ERR_HISTORY_GONE: 'history no longer available',
  /** A subscriber that could not keep up was disconnected. */
  ERI_ERR_SLOW_CONSUMER: 'slow consumer',
  /** The node running a session stopped answering (its heartbeat expired). */
  ERI_ERR_NODE_LOST: 'node lost',
  /** onnxruntime failed to load or run a graph. */
  ERI_ERR_INFERENCE: 'inference failed',
  /** A call on an object that was already closed. */
  ERI_ERR_CLOSED: 'object is closed',
  /** A dataset (data_info.csv + videos) or an extracted feature set is missing or malformed. */
  ERI_ERR_DATASET: 'invalid dataset',
  /** No token, or a token that is invalid or expired (HTTP 401). */
  ERI_ERR_UNAUTHENTICATED: 'not authenticated',
  /** A valid token whose scopes do not cover the request (HTTP 403). */
  ERI_ERR_FORBIDDEN: 'forbidden',
  /** The PyTorch trainer could not start or failed. */
  ERI_ERR_TRAINING: 'training failed',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class EriError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EriError';
    this.code = code;
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isEriError(value: unknown): value is EriError {
  return value instanceof EriError;
}

/** A zod failure as one line a client can act on: the first issue's path and message. */
export function zodIssueText(error: {
  issues: readonly { path: readonly PropertyKey[]; message: string }[];
}): string {
  const issue = error.issues[0];
  return `${issue?.path.map(String).join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`;
}
