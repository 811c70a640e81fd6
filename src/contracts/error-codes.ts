/**
 * Every error a user can see carries a stable `code` (ERI_ERR_*), so scripts and clients branch on the
 * code, never on the message. The table below is the single list of codes, with the HTTP status each
 * one answers with on REST (the one error handler reads it); `docs/errors.md` documents each code and
 * its status, and a test checks the two agree. It is a contract: the server raises these codes and the
 * client package (packages/client) types what it surfaces with them.
 */
export const ERROR_CODES = {
  /** Bad argument or input that the caller can fix. */
  ERI_ERR_INVALID_ARGUMENT: { summary: 'invalid argument', status: 400 },
  /** A file could not be read (missing, permissions). */
  ERI_ERR_FILE_READ: { summary: 'file could not be read', status: 500 },
  /** A safetensors file is malformed (truncated, bad header, offsets out of range). */
  ERI_ERR_SAFETENSORS_FORMAT: { summary: 'not a valid safetensors file', status: 422 },
  /** A tensor has a dtype the reader does not accept here. */
  ERI_ERR_TENSOR_DTYPE: { summary: 'tensor has the wrong dtype', status: 422 },
  /** A required tensor is absent from a weights or features file. */
  ERI_ERR_TENSOR_MISSING: { summary: 'required tensor is missing', status: 422 },
  /** A tensor has the wrong shape. */
  ERI_ERR_TENSOR_SHAPE: { summary: 'tensor has the wrong shape', status: 422 },
  /** A tensor holds NaN or infinite values. */
  ERI_ERR_TENSOR_VALUES: { summary: 'tensor holds non-finite values', status: 422 },
  /** A model package directory is malformed (model.json missing or invalid). */
  ERI_ERR_MODEL_PACKAGE: { summary: 'invalid model package', status: 500 },
  /** A model package's weights disagree with its card. */
  ERI_ERR_MODEL_MISMATCH: { summary: 'model weights disagree with the model card', status: 500 },
  /** The features offered to a model follow another feature spec than the model's. */
  ERI_ERR_FEATURE_SPEC_MISMATCH: { summary: 'feature spec mismatch', status: 422 },
  /** A modality is missing and the model card does not allow that. */
  ERI_ERR_MODALITY_MISSING: { summary: 'modality missing', status: 422 },
  /** ffmpeg could not decode the media (not media, truncated, unsupported, no streams). */
  ERI_ERR_MEDIA_DECODE: { summary: 'media could not be decoded', status: 422 },
  /** The face or audio models could not be loaded or run. */
  ERI_ERR_FEATURES: { summary: 'feature extraction failed', status: 500 },
  /** A mediasoup worker is missing or died. */
  ERI_ERR_MEDIA_WORKER: { summary: 'media worker failure', status: 503 },
  /** A signalling or ingest message is not JSON, not valid against its schema, or too large. */
  ERI_ERR_MALFORMED_MESSAGE: { summary: 'malformed message', status: 400 },
  /** A signalling method that does not exist. */
  ERI_ERR_UNKNOWN_METHOD: { summary: 'unknown method', status: 400 },
  /** A request that is valid but not now (e.g. produce before join). */
  ERI_ERR_INVALID_STATE: { summary: 'invalid state', status: 409 },
  /** A transport, producer, room or session that does not exist. */
  ERI_ERR_NOT_FOUND: { summary: 'not found', status: 404 },
  /** A configured limit was exceeded (message size or rate, frame size or rate, sessions). */
  ERI_ERR_LIMIT: { summary: 'limit exceeded', status: 429 },
  /** A resume asked for estimates the history no longer keeps. */
  ERI_ERR_HISTORY_GONE: { summary: 'history no longer available', status: 410 },
  /** A subscriber that could not keep up was disconnected. */
  ERI_ERR_SLOW_CONSUMER: { summary: 'slow consumer', status: 429 },
  /** The node running a session stopped answering (its heartbeat expired). */
  ERI_ERR_NODE_LOST: { summary: 'node lost', status: 503 },
  /** onnxruntime failed to load or run a graph. */
  ERI_ERR_INFERENCE: { summary: 'inference failed', status: 500 },
  /** A call on an object that was already closed. */
  ERI_ERR_CLOSED: { summary: 'object is closed', status: 503 },
  /** A dataset (data_info.csv + videos) or an extracted feature set is missing or malformed. */
  ERI_ERR_DATASET: { summary: 'invalid dataset', status: 422 },
  /** No token, or a token that is invalid or expired (HTTP 401). */
  ERI_ERR_UNAUTHENTICATED: { summary: 'not authenticated', status: 401 },
  /** A valid token whose scopes do not cover the request (HTTP 403). */
  ERI_ERR_FORBIDDEN: { summary: 'forbidden', status: 403 },
  /** A request body larger than its limit (a stimulus over 2 GiB, a JSON body over 1 MiB). */
  ERI_ERR_PAYLOAD_TOO_LARGE: { summary: 'request body too large', status: 413 },
  /** A fault of the server, not of the request (a disk that failed while saving); the log has the details. */
  ERI_ERR_INTERNAL: { summary: 'internal server error', status: 500 },
  /** A client could not reach the server, or lost its connection and is retrying (the client package). */
  ERI_ERR_CONNECTION: { summary: 'connection failed or lost', status: 503 },
  /** The PyTorch trainer could not start or failed. */
  ERI_ERR_TRAINING: { summary: 'training failed', status: 500 },
} as const satisfies Record<string, { summary: string; status: number }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}
