import { Subject } from 'rxjs';
import type { WebSocket } from 'ws';
import type { AudioChunk, VideoFrame } from '../../streams/align-media.js';
import type { FeatureStep } from '../contracts/feature-step.js';
import {
  INGEST_HEADER_BYTES,
  INGEST_KIND,
  type IngestControl,
  type IngestStart,
  ingestControlSchema,
} from '../contracts/ingest-protocol.js';
import { sessionEndedData } from '../contracts/stream-protocol.js';
import { EriError, zodIssueText } from '../errors.js';
import { JpegFrameDecoder } from '../ingest/jpeg-decoder.js';
import type { SessionInput } from '../sessions/session.js';
import { checkEdgeAnalysis, EdgeStepReader } from './edge-step-reader.js';
import { RateLimit } from './limits.js';
import { PublisherSession } from './publisher-session.js';
import type { SignallingDeps } from './signalling.js';
import { WsChannel } from './ws-channel.js';

/**
 * The WebSocket frame ingest (`/v1/ingest`), for clients without WebRTC (and k6): JPEG frames and PCM
 * chunks with media timestamps into the same pipeline. Protocol (docs/ingest.md):
 *
 * - text `{"type":"start","roomId":"r","sessionId":"s"?}` -> `{"type":"started","sessionId":…}`
 * - binary: byte 0 = kind (1 JPEG frame, 2 PCM s16le mono 16 kHz), bytes 1-7 zero, bytes 8-15 the
 *   media time in seconds from the session's start (float64 LE), then the payload
 * - edge mode: a start with `analysis: {mode: "edge", spec, videoDim, audioDim, rateHz}` sends feature
 *   steps computed by the client (kind 3, contracts/edge-steps.ts) instead of media; the model's spec
 *   must match, and the steps are checked as untrusted input (EdgeStepReader)
 * - text `{"type":"end"}` ends the session (final estimate, then `session.ended`)
 * - the server sends `{"type":"estimate",…}`, `{"type":"session.ended",…}`, `{"type":"error",code,message}`
 *
 * JPEGs are decoded by one ffmpeg per session (JpegFrameDecoder).
 */

/** Media kept while a start is being checked: 2 s of 10 Hz video and audio, with room, in 8 MiB. */
const MAX_EARLY_MESSAGES = 64;
const MAX_EARLY_BYTES = 8 * 1024 * 1024;

/**
 * How far a client's media time may run ahead of the session's own clock (seconds since its start). A
 * real client sends media as it captures it, give or take its buffering; a time far ahead would make
 * the aligner create every step up to it (a day of steps from one 3 KB message), so it is refused.
 */
export const MEDIA_AHEAD_SLACK_SECONDS = 10;

export class FrameIngestConnection {
  readonly #channel: WsChannel<IngestControl>;
  readonly #deps: SignallingDeps;
  readonly #frames = new Subject<VideoFrame>();
  readonly #audio = new Subject<AudioChunk>();
  readonly #steps = new Subject<FeatureStep>();
  readonly #limit: RateLimit;
  #endRequested = false;
  readonly #publisher: PublisherSession;
  /** Media sent between `start` and the session existing (the start awaits its checks): replayed. */
  readonly #early: Buffer[] = [];
  #decoder: JpegFrameDecoder | undefined;
  /** Set for an edge session: its feature steps' checks. */
  #edge: EdgeStepReader | undefined;
  #lastFrameT = -1;
  #closed = false;
  /** performance.now() when the session started: media time is checked against it. */
  #startedAt = 0;

  constructor(ws: WebSocket, deps: SignallingDeps) {
    this.#deps = deps;
    this.#limit = new RateLimit(deps.config.maxFrameRate);
    this.#publisher = new PublisherSession(deps, (event) => {
      if (event.type === 'estimate') this.#channel.send({ type: 'estimate', data: event.estimate });
      if (event.type === 'session.ended') {
        this.#channel.send({ type: 'session.ended', data: sessionEndedData(event) });
        this.#stopDecoder();
      }
    });
    this.#channel = new WsChannel(ws, {
      maxMessageBytes: deps.config.maxMessageBytes,
      maxMessagesPerSecond: deps.config.maxMessagesPerSecond,
      // A client that stops answering (frozen, gone without a close) ends its session, as signalling does.
      heartbeatMs: Math.max(100, Math.floor(deps.config.publisherTimeoutMs / 2)),
      schema: ingestControlSchema,
      invalid: (_json, error) =>
        new EriError('ERI_ERR_MALFORMED_MESSAGE', `invalid control message: ${zodIssueText(error)}`),
      faultCode: () => 'ERI_ERR_MALFORMED_MESSAGE',
      errorMessage: (error) => ({ type: 'error', ...error.toJSON() }),
      onMessage: (message) => this.#onControl(message),
      onBinary: (data) => this.#onBinary(data),
      onError: (error) => deps.onError?.(error.code),
      onClose: () => this.#close(),
    });
  }

  #onControl(message: IngestControl): void {
    const session = this.#publisher.session;
    if (message.type === 'stimulus') {
      if (!session || !this.#deps.studies.tracker.studyOf(session.id))
        throw new EriError('ERI_ERR_INVALID_STATE', 'not a viewer in a study: start with a studyId');
      this.#deps.studies.tracker.mark(session.id, {
        event: message.event,
        position: message.position,
        mediaTime: message.mediaTime,
      });
      this.#channel.send({ type: 'stimulus.marked', event: message.event });
      return;
    }
    if (message.type === 'end') {
      if (!session && this.#publisher.starting && !this.#endRequested) {
        // Sent right after start: the session ends as soon as it exists.
        this.#endRequested = true;
        return;
      }
      if (!session) throw new EriError('ERI_ERR_INVALID_STATE', 'no session to end: send start first');
      // The first `end` is answered by the final estimate and session.ended; a repeat by this error.
      if (this.#endRequested || session.state === 'ended')
        throw new EriError('ERI_ERR_INVALID_STATE', 'the session is already ending or ended');
      this.#endRequested = true;
      session.end('normal');
      return;
    }
    this.#start(message);
  }

  /** Starts the publisher session; its checks are awaited, and media sent meanwhile is replayed after. */
  #start(message: IngestStart): void {
    const started = this.#publisher.start(message, async () => {
      this.#startedAt = performance.now();
      return { input: this.#openInput(message), release: () => this.#stopDecoder() };
    });
    started
      .then((session) => {
        this.#channel.send({ type: 'started', sessionId: session.id, roomId: message.roomId });
        for (const data of this.#early.splice(0)) this.#channel.guard(() => this.#onBinary(data));
        if (this.#endRequested) session.end('normal');
      })
      .catch((error: unknown) => {
        // A start refused because another is in progress leaves that one's early media alone.
        if (!this.#publisher.starting) this.#early.length = 0;
        this.#channel.fail(error);
      });
  }

  /** Media for the server to analyse, or (edge mode) checked feature steps. */
  #openInput(message: IngestStart): SessionInput {
    if (message.analysis) {
      const spec = this.#deps.featureSpec;
      checkEdgeAnalysis(message.analysis, spec);
      this.#edge = new EdgeStepReader(spec);
      return { mode: 'edge', steps$: this.#steps };
    }
    this.#decoder = this.#newDecoder();
    return { mode: 'server', frames$: this.#frames, audio$: this.#audio };
  }

  #onBinary(data: Buffer): void {
    if (this.#publisher.starting) {
      const bytes = this.#early.reduce((n, b) => n + b.length, data.length);
      if (this.#early.length >= MAX_EARLY_MESSAGES || bytes > MAX_EARLY_BYTES)
        throw new EriError(
          'ERI_ERR_LIMIT',
          `more than ${MAX_EARLY_MESSAGES} media messages or ${MAX_EARLY_BYTES} bytes before the session started`,
        );
      this.#early.push(data);
      return;
    }
    const session = this.#publisher.session;
    if (!session || session.state === 'ended')
      throw new EriError('ERI_ERR_INVALID_STATE', 'send start before media');
    if (data.length < INGEST_HEADER_BYTES)
      throw new EriError(
        'ERI_ERR_MALFORMED_MESSAGE',
        `binary message shorter than its ${INGEST_HEADER_BYTES}-byte header`,
      );
    const kind = data[0];
    const t = data.readDoubleLE(8);
    if (!Number.isFinite(t) || t < 0 || t > 86_400)
      throw new EriError('ERI_ERR_MALFORMED_MESSAGE', `media time ${t} is not within [0, 86400] s`);
    const clock = (performance.now() - this.#startedAt) / 1000;
    if (t > clock + MEDIA_AHEAD_SLACK_SECONDS) {
      throw new EriError(
        'ERI_ERR_LIMIT',
        `media time ${t} s runs ${(t - clock).toFixed(1)} s ahead of the session's ${clock.toFixed(1)} s (at most ${MEDIA_AHEAD_SLACK_SECONDS} s); send media as it is captured`,
      );
    }
    const payload = data.subarray(INGEST_HEADER_BYTES);
    if ((kind === INGEST_KIND.features) !== Boolean(this.#edge))
      throw new EriError(
        'ERI_ERR_INVALID_STATE',
        this.#edge
          ? 'this session sends feature steps (edge mode): no JPEG or PCM'
          : 'feature steps need a start with analysis.mode "edge"',
      );
    if (kind === INGEST_KIND.features) {
      for (const step of (this.#edge as EdgeStepReader).read(t, payload)) this.#steps.next(step);
      return;
    }
    if (kind === INGEST_KIND.jpeg) {
      if (payload.length > this.#deps.config.maxFrameBytes) {
        throw new EriError(
          'ERI_ERR_LIMIT',
          `frame of ${payload.length} bytes exceeds the ${this.#deps.config.maxFrameBytes}-byte limit`,
        );
      }
      if (!this.#limit.take())
        throw new EriError(
          'ERI_ERR_LIMIT',
          `more than ${this.#deps.config.maxFrameRate} frames per second; frame dropped`,
        );
      if (
        payload.length < 4 ||
        payload[0] !== 0xff ||
        payload[1] !== 0xd8 ||
        payload[payload.length - 2] !== 0xff ||
        payload[payload.length - 1] !== 0xd9
      ) {
        throw new EriError('ERI_ERR_MALFORMED_MESSAGE', 'frame is not a complete JPEG (SOI ... EOI)');
      }
      if (t <= this.#lastFrameT)
        throw new EriError(
          'ERI_ERR_MALFORMED_MESSAGE',
          `frame time ${t} is not after the previous frame's ${this.#lastFrameT}`,
        );
      // Frames waiting for the decoder are bounded (about 2 s' worth): a stalled decoder costs frames, not memory.
      if ((this.#decoder?.pending ?? 0) >= 2 * this.#deps.config.maxFrameRate) {
        throw new EriError('ERI_ERR_LIMIT', 'the frame decoder is behind; frame dropped');
      }
      this.#lastFrameT = t;
      this.#decoder?.write(t, payload);
      return;
    }
    if (kind === INGEST_KIND.pcm) {
      // Audio chunks count against the message rate, like control messages (frames have their own).
      this.#channel.countMessage('chunk');
      if (payload.length % 2 !== 0)
        throw new EriError('ERI_ERR_MALFORMED_MESSAGE', 'PCM payload must be whole 16-bit samples');
      if (payload.length > this.#deps.config.maxMessageBytes)
        throw new EriError('ERI_ERR_LIMIT', 'PCM chunk too large');
      const samples = new Float32Array(payload.length / 2);
      for (let i = 0; i < samples.length; i++) samples[i] = payload.readInt16LE(2 * i) / 32768;
      this.#audio.next({ t, samples });
      return;
    }
    throw new EriError(
      'ERI_ERR_MALFORMED_MESSAGE',
      `unknown binary kind ${kind} (1 = JPEG, 2 = PCM, 3 = a feature step)`,
    );
  }

  #newDecoder(): JpegFrameDecoder {
    const live = () => !this.#closed && this.#publisher.session?.state === 'running';
    return new JpegFrameDecoder(
      this.#deps.frameSize,
      {
        frame: (t, rgb) => this.#frames.next({ t, rgb }),
        error: (error) => {
          if (!this.#closed) this.#channel.fail(error);
        },
        failed: (error) => {
          if (!live()) return;
          this.#channel.fail(error);
          this.#publisher.session?.end('error', error);
        },
      },
      this.#deps.frameBuffers,
    );
  }

  #stopDecoder(): void {
    this.#decoder?.stop();
    this.#decoder = undefined;
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#publisher.close('client-gone');
    this.#frames.complete();
    this.#audio.complete();
    this.#steps.complete();
    this.#stopDecoder();
  }
}
