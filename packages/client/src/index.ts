/**
 * The eri-stream client: live Emotional Reaction Intensity estimates from an eri-stream server, as RxJS
 * Observables (`EriStreamClient`), and publishing media over the frame ingest (`IngestClient`). The
 * protocol types and their zod schemas are the ones the server itself uses.
 *
 * @packageDocumentation
 */

export {
  decodeEdgeStep,
  EDGE_FEATURE_LIMIT,
  type EdgeAnalysis,
  edgeAnalysisSchema,
  edgeStepBytes,
  encodeEdgeStep,
} from '../../../src/contracts/edge-steps.js';
export { EMOTIONS, type Emotion } from '../../../src/contracts/emotions.js';
export type { ErrorBody } from '../../../src/contracts/error-body.js';
export type { ErrorCode } from '../../../src/contracts/error-codes.js';
export { ERROR_CODES, isErrorCode } from '../../../src/contracts/error-codes.js';
export { type AnalysisMode, type Estimate, estimateSchema } from '../../../src/contracts/estimate.js';
export type { FeatureSpec } from '../../../src/contracts/feature-spec.js';
export type { FeatureStep } from '../../../src/contracts/feature-step.js';
export {
  INGEST_HEADER_BYTES,
  INGEST_KIND,
  INGEST_SAMPLE_RATE,
  type IngestControl,
  type IngestServerMessage,
  ingestControlSchema,
  ingestMessage,
  ingestServerMessageSchema,
  pcm16,
} from '../../../src/contracts/ingest-protocol.js';
export {
  type ClientMessage,
  clientMessageSchema,
  type ErrorMessage,
  type Hello,
  type RoomAggregate,
  type ServerMessage,
  type SessionEnded,
  STREAM_PROTOCOL_VERSION,
  type StreamEvent,
  type StreamTarget,
  serverMessageSchema,
  streamEventSchema,
  targetSchema,
} from '../../../src/contracts/stream-protocol.js';
export { WS_CLOSE } from '../../../src/contracts/ws-close.js';
export { EriClientError, isEriClientError } from './errors.js';
export { IngestClient, type IngestClientOptions } from './ingest-client.js';
export type {
  SocketCloseEvent,
  SocketMessageEvent,
  TokenSource,
  WebSocketConstructor,
  WebSocketLike,
} from './socket.js';
export { endpointUrl } from './socket.js';
export {
  type ConnectionState,
  type ConnectionStatus,
  EriStreamClient,
  type StreamClientOptions,
  type SubscribeOptions,
} from './stream-client.js';
